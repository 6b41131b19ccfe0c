package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshwork.dev/platform/testinfra"
)

// repoRoot is the repository's top: the directory above that holds go.work.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the test's directory")
		}
		dir = parent
	}
}

// scratchRepo returns a scratch repository beside this checkout (testinfra.ScratchRepo).
func scratchRepo(t *testing.T) string {
	t.Helper()
	return testinfra.ScratchRepo(t, repoRoot(t))
}

// goCmd runs the go command in dir of the scratch repository root and fails t on error.
func goCmd(t *testing.T, root, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(root, dir)
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"), "GOFLAGS=")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("go %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestNewDomainBuildsAndPassesItsTests scaffolds a domain and a product in a scratch
// repository, then a second domain that consumes the first one's product, and runs what a
// team would: buf lint and generate (done by new), the generated tests, which start real
// Postgres and NATS, and go vet.
func TestNewDomainBuildsAndPassesItsTests(t *testing.T) {
	start := time.Now()
	root := scratchRepo(t)
	meshctl(t, "new", "domain", "inventory", "--root", root).wantCode(t, 0)
	t.Logf("scratch repository and new domain: %s", time.Since(start).Round(time.Millisecond))
	r := meshctl(t, "new", "product", "inventory", "stock-levels", "--root", root)
	r.wantCode(t, 0)
	if !strings.Contains(r.stdout, "wrote domains/inventory/stream/products.go") {
		t.Errorf("new product did not list the product:\n%s", r.stdout)
	}
	meshctl(t, "new", "domain", "shop", "--root", root,
		"--consumes", "inventory.records.v1", "--consumes-message", "mesh.inventory.v1.Record").wantCode(t, 0)

	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"./domains/inventory", "./domains/shop"} {
		if !strings.Contains(string(work), "\t"+d+"\n") {
			t.Errorf("go.work does not use %s:\n%s", d, work)
		}
	}
	for _, f := range []string{"inventory_service.pb.go", "inventory_service_grpc.pb.go", "records.pb.go", "stock_levels.pb.go"} {
		if _, err := os.Stat(filepath.Join(root, "contracts/gen/go/mesh/inventory/v1", f)); err != nil {
			t.Errorf("generated code: %v", err)
		}
	}
	// inventory's generated tests run in full; shop, built from the same templates with
	// another upstream, is compiled and vetted (linking its test binaries would double the
	// time for little more).
	out := goCmd(t, root, ".", "test", "-count=1", "./domains/inventory/...")
	for _, pkg := range []string{"cmd/inventory", "postgres", "record", "stream"} {
		if !strings.Contains(out, "ok  \tmeshwork.dev/domains/inventory/"+pkg) {
			t.Errorf("no passing inventory/%s tests in:\n%s", pkg, out)
		}
	}
	goCmd(t, root, ".", "vet", "./domains/shop/...")
}

// TestNewRejectsBadNames: every mistake is a usage error (exit 2) on one line naming it,
// and nothing is written.
func TestNewRejectsBadNames(t *testing.T) {
	root := scratchRepo(t)
	meshctl(t, "new", "domain", "inventory", "--root", root).wantCode(t, 0)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"domain", "Bad-Name"}, `domain "Bad-Name": want 2 to 30 lower-case letters`},
		{[]string{"domain", "inventory"}, "exists already"},
		{[]string{"domain", "rpc"}, "reserved"},
		{[]string{"domain", "shop", "--product", "Stock_Levels"}, "want kebab-case"},
		{[]string{"domain", "shop", "--consumes", "shop.records.v1"}, "consumes another domain's product"},
		{[]string{"domain", "shop", "--consumes", "nope"}, "want a product id"},
		{[]string{"domain", "shop", "--consumes-message", "mesh.quality.v1.Nope"}, "no such message"},
		{[]string{"domain", "shop", "--port", "7003"}, "--port 7003"},
		{[]string{"domain"}, "want one domain name"},
		{[]string{"product", "nowhere", "things"}, "meshctl new domain nowhere"},
		{[]string{"product", "inventory", "records"}, "declares it already"},
		{[]string{"thing"}, `unknown command "thing"`},
	} {
		r := meshctl(t, append(append([]string{"new"}, tt.args...), "--root", root)...)
		r.wantCode(t, 2)
		r.wantErrLine(t, tt.want)
	}
	if _, err := os.Stat(filepath.Join(root, "domains", "shop")); err == nil {
		t.Error("a refused command wrote domains/shop")
	}
	r := meshctl(t, "new", "domain", "shop", "--root", filepath.Join(root, "domains"))
	r.wantCode(t, 2)
	r.wantErrLine(t, "is not the repository's top")
}
