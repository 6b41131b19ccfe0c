package lint_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/rule"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/meshctl/lint"
)

// goodDescriptor passes every rule.
func goodDescriptor() *platformv1.DataProductDescriptor {
	return dataproduct.Product{
		Domain: "catalog", Name: "product-changes", Major: 1,
		Owner: "platform-team", Contact: "#platform",
		Description:    "Every registration that created or changed a data product's contract.",
		Message:        &platformv1.ProductChanged{},
		Classification: dataproduct.ClassInternal,
		Freshness:      time.Hour,
	}.Descriptor()
}

// write stores d in dir/name as JSON or binary protobuf, by name's extension.
func write(t *testing.T, dir, name string, d *platformv1.DataProductDescriptor) string {
	t.Helper()
	var b []byte
	var err error
	if filepath.Ext(name) == ".json" {
		b, err = protojson.MarshalOptions{Multiline: true}.Marshal(d)
	} else {
		b, err = proto.Marshal(d)
	}
	if err != nil {
		t.Fatalf("marshal %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGoodDescriptorPasses(t *testing.T) {
	t.Parallel()
	if f := lint.Descriptor("good", goodDescriptor()); len(f) != 0 {
		t.Fatalf("good descriptor has findings: %+v", f)
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := write(t, dir, "good.json", goodDescriptor())
	goodBin := write(t, dir, "nested/good.binpb", goodDescriptor())
	warn := goodDescriptor()
	warn.Description = "too short"
	warnPath := write(t, dir, "nested/deeper/warn.json", warn)
	bad := goodDescriptor()
	bad.Owner = ""
	badPath := write(t, t.TempDir(), "bad.json", bad)
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a descriptor"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		paths      []string
		wantN      int
		wantRules  []string
		wantSource []string
		wantErrors bool
	}{
		{name: "good json", paths: []string{good}, wantN: 1},
		{name: "good binpb", paths: []string{goodBin}, wantN: 1},
		{name: "directory walks json and binpb only", paths: []string{dir}, wantN: 3, wantRules: []string{"DP003"}, wantSource: []string{warnPath}},
		{name: "bad file", paths: []string{badPath, good}, wantN: 2, wantRules: []string{"DP002"}, wantSource: []string{badPath}, wantErrors: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, findings, err := lint.Files(tt.paths)
			if err != nil {
				t.Fatalf("Files: %v", err)
			}
			if n != tt.wantN {
				t.Errorf("checked %d descriptors, want %d", n, tt.wantN)
			}
			var rules, sources []string
			for _, f := range findings {
				rules, sources = append(rules, f.Rule), append(sources, f.Source)
			}
			if !slices.Equal(rules, tt.wantRules) || !slices.Equal(sources, tt.wantSource) {
				t.Errorf("findings %+v, want rules %v from %v", findings, tt.wantRules, tt.wantSource)
			}
			if got := lint.HasErrors(findings); got != tt.wantErrors {
				t.Errorf("HasErrors = %v, want %v", got, tt.wantErrors)
			}
		})
	}
}

func TestFilesErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte(`{"name":"a.b.v1","ownr":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "desc.yaml")
	if err := os.WriteFile(other, []byte("name: a.b.v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing file":      filepath.Join(dir, "nope.json"),
		"unknown field":     typo,
		"unknown extension": other,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := lint.Files([]string{path}); err == nil {
				t.Error("Files succeeded, want an error")
			}
		})
	}
}

func TestDescriptorFindingFields(t *testing.T) {
	t.Parallel()
	d := goodDescriptor()
	d.Contact = ""
	got := lint.Descriptor("src.json", d)
	want := lint.Finding{Source: "src.json", Rule: "DP002", Severity: rule.Error, Field: "contact"}
	if len(got) != 1 || got[0].Source != want.Source || got[0].Rule != want.Rule || got[0].Severity != want.Severity ||
		got[0].Field != want.Field || got[0].Message == "" || got[0].Hint == "" {
		t.Fatalf("findings %+v, want one like %+v with a message and a hint", got, want)
	}
}
