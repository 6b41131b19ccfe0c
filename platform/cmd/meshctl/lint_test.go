package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/meshctl/lint"
)

// writeDescriptor stores d as protojson (.json) or binary (.binpb) in dir/name.
func writeDescriptor(t *testing.T, dir, name string, d *platformv1.DataProductDescriptor) string {
	t.Helper()
	marshal := protojson.Marshal
	if filepath.Ext(name) == ".binpb" {
		marshal = proto.Marshal
	}
	b, err := marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// descriptors returns a descriptor that passes, one with only a warning and one with an error.
func descriptors() (good, warn, bad *platformv1.DataProductDescriptor) {
	good = newFakeCatalog().product.GetDescriptor_()
	good.PiiFields = nil
	warn = proto.CloneOf(good)
	warn.Description = "Product changes."
	bad = proto.CloneOf(good)
	bad.Owner = ""
	return good, warn, bad
}

func TestLintFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, warn, bad := descriptors()
	goodPath := writeDescriptor(t, dir, "good.json", good)
	goodBin := writeDescriptor(t, dir, "good.binpb", good)
	warnPath := writeDescriptor(t, t.TempDir(), "warn.json", warn)
	badPath := writeDescriptor(t, t.TempDir(), "bad.json", bad)

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // lines, exactly
		stderr string
	}{
		{
			name: "good files", args: []string{goodPath, goodBin}, code: 0,
			stdout: []string{"checked 2 descriptor files: no findings"},
		},
		{
			name: "a directory", args: []string{dir}, code: 0,
			stdout: []string{"checked 2 descriptor files: no findings"},
		},
		{
			name: "a warning passes", args: []string{warnPath}, code: 0,
			stdout: []string{
				warnPath,
				"  DP003  warning  description  description \"Product changes.\" is 16 characters, want at least 20 (hint: say what the product holds and what it is for, in a sentence or two)",
				"checked 1 descriptor file: 0 errors, 1 warning",
			},
		},
		{
			name: "an error fails", args: []string{badPath, goodPath}, code: 1,
			stdout: []string{
				badPath,
				"  DP002  error  owner  owner is empty (hint: set owner to the owning team and contact to an email address or chat channel that reaches it)",
				"checked 2 descriptor files: 1 error, 0 warnings",
			},
			stderr: "meshctl: lint: 1 error, 0 warnings\n",
		},
		{
			name: "contracts and files", args: []string{"--contracts", goodPath}, code: 0,
			stdout: []string{"checked 1 descriptor file, " + plural(contractsMessages(), "contracts message") + ": no findings"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := meshctl(t, append([]string{"lint"}, tt.args...)...)
			r.wantCode(t, tt.code)
			if want := strings.Join(tt.stdout, "\n") + "\n"; r.stdout != want {
				t.Errorf("stdout =\n%s\nwant\n%s", r.stdout, want)
			}
			if r.stderr != tt.stderr {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.stderr)
			}
		})
	}
}

// contractsMessages counts the contracts' messages as lint --contracts does.
func contractsMessages() int {
	n, _ := lint.Contracts(protoregistry.GlobalFiles, contractsPrefix)
	return n
}

func TestLintContractsPass(t *testing.T) {
	t.Parallel()
	r := meshctl(t, "lint", "--contracts")
	r.wantCode(t, 0)
	if !strings.HasSuffix(r.stdout, "contracts messages: no findings\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("lint --contracts =\n%s", r.stdout)
	}
}

func TestLintJSON(t *testing.T) {
	t.Parallel()
	_, _, bad := descriptors()
	path := writeDescriptor(t, t.TempDir(), "bad.binpb", bad)
	r := meshctl(t, "lint", path, "-o", "json")
	r.wantCode(t, 1)
	var out struct {
		Checked  []string
		Findings []struct{ Source, Rule, Severity, Field, Message, Hint string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("lint -o json: %v\n%s", err, r.stdout)
	}
	if len(out.Findings) != 1 {
		t.Fatalf("findings = %+v, want one", out.Findings)
	}
	f := out.Findings[0]
	if f.Source != path || f.Rule != "DP002" || f.Severity != "error" || f.Field != "owner" || f.Message == "" || f.Hint == "" {
		t.Errorf("finding = %+v", f)
	}
	if len(out.Checked) != 1 || out.Checked[0] != "1 descriptor file" {
		t.Errorf("checked = %q", out.Checked)
	}
}

func TestLintCatalog(t *testing.T) {
	t.Parallel()
	fake := newFakeCatalog()
	_, _, bad := descriptors()
	fake.product.Descriptor_ = bad
	fake.summaries = fake.summaries[:1]
	addr := startCatalog(t, fake)

	r := meshctl(t, "lint", "--catalog="+addr)
	r.wantCode(t, 1)
	if !strings.HasPrefix(r.stdout, "catalog:catalog.product-changes.v1\n  DP002  error  owner") ||
		!strings.HasSuffix(r.stdout, "checked 1 registered product: 1 error, 0 warnings\n") {
		t.Errorf("lint --catalog=ADDR =\n%s", r.stdout)
	}
	// The address may also come from the global flag.
	r = meshctl(t, "--catalog", addr, "lint", "--catalog")
	r.wantCode(t, 1)
	r.wantErrLine(t, "lint: 1 error")
}

func TestLintErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte(`{"name": "a.b.v1", "ownr": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "nothing to lint", args: nil, code: 2, want: "lint: nothing to lint"},
		{name: "missing file", args: []string{filepath.Join(dir, "nope.json")}, code: 1, want: "no such file"},
		{name: "unknown field", args: []string{typo}, code: 1, want: "ownr"},
		{name: "catalog down", args: []string{"--catalog=" + closedAddr(t)}, code: 1, want: "lint --catalog: unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := meshctl(t, append([]string{"lint"}, tt.args...)...)
			r.wantCode(t, tt.code)
			r.wantErrLine(t, tt.want)
		})
	}
}
