package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the checkout's top directory: where go.work is.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		t.Fatalf("go env GOWORK: %q, %v: the e2e tests run inside the workspace", out, err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// buildAll builds what `make build` builds, and installs the pinned grpcurl and NATS CLI
// from tools/go.mod with `go install`, all into one temporary bin directory.
func buildAll(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	bin := t.TempDir()
	pkgs := []string{"./platform/cmd/..."}
	domains, _ := filepath.Glob(filepath.Join(root, "domains", "*", "cmd"))
	for _, d := range domains {
		rel, _ := filepath.Rel(root, d)
		pkgs = append(pkgs, "./"+rel+"/...")
	}
	build := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	install := exec.Command("go", "install", "github.com/fullstorydev/grpcurl/cmd/grpcurl", "github.com/nats-io/natscli/nats")
	install.Dir = filepath.Join(root, "tools")
	install.Env = append(os.Environ(), "GOWORK=off", "GOBIN="+bin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install grpcurl nats: %v\n%s", err, out)
	}
	return bin
}

// enterableTempDir is a temporary directory the postgres user can enter when the tests run
// as root (t.TempDir's parent is 0700), so the mesh keeps its Postgres data inside it.
func enterableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "meshwork-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMeshEndToEnd starts the mesh as `make run` does, drives it with meshctl, grpcurl and
// the NATS CLI, stops it with SIGINT, and starts it again on the same data.
func TestMeshEndToEnd(t *testing.T) {
	bin := buildAll(t)
	dir := filepath.Join(enterableTempDir(t), ".mesh")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	meshctl := filepath.Join(bin, "meshctl")

	m := startMesh(t, bin, dir, freeOffset(t))
	global := []string{"--catalog", m.catalogAddr(), "--nats", m.natsURL()}
	const product = "catalog.product-changes.v1"

	// meshctl lists the products, as JSON for the test.
	var list []struct {
		Name     string `json:"name"`
		Revision string `json:"revision"`
	}
	ls := run(t, ctx, meshctl, append(global, "catalog", "ls", "-o", "json")...)
	if err := json.Unmarshal([]byte(ls), &list); err != nil {
		t.Fatalf("meshctl catalog ls -o json: %v\n%s", err, ls)
	}
	if len(list) == 0 || list[0].Name != product {
		t.Fatalf("meshctl catalog ls lists %+v, want %s", list, product)
	}
	table := run(t, ctx, meshctl, append(global, "catalog", "ls")...)
	if !strings.Contains(table, "NAME") || !strings.Contains(table, product) {
		t.Errorf("meshctl catalog ls table:\n%s", table)
	}

	// grpcurl finds the catalog through server reflection and calls it.
	grpcurl := filepath.Join(bin, "grpcurl")
	if svcs := run(t, ctx, grpcurl, "-plaintext", m.catalogAddr(), "list"); !strings.Contains(svcs, "mesh.platform.v1.CatalogService") {
		t.Errorf("grpcurl list:\n%s", svcs)
	}
	got := run(t, ctx, grpcurl, "-plaintext", "-d", `{"name":"`+product+`"}`, m.catalogAddr(), "mesh.platform.v1.CatalogService/GetProduct")
	var resp struct {
		Descriptor struct {
			Name   string `json:"name"`
			Stream string `json:"stream"`
		} `json:"descriptor"`
		Observed struct {
			StreamExists bool   `json:"streamExists"`
			Messages     string `json:"messages"`
		} `json:"observed"`
	}
	if err := json.Unmarshal([]byte(got), &resp); err != nil {
		t.Fatalf("grpcurl GetProduct: %v\n%s", err, got)
	}
	if resp.Descriptor.Name != product || !resp.Observed.StreamExists || resp.Observed.Messages == "" {
		t.Errorf("grpcurl GetProduct = %+v", resp)
	}
	if out, err := output(ctx, grpcurl, "-plaintext", "-d", `{"name":"no.such-product.v1"}`, m.catalogAddr(),
		"mesh.platform.v1.CatalogService/GetProduct"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("grpcurl GetProduct of an unknown product: %v\n%s", err, out)
	}

	// meshctl tail decodes the product's events with the schema from the catalog.
	line := firstLine(t, ctx, meshctl, append(global, "tail", product, "-n", "1")...)
	var ev struct {
		Type string         `json:"type"`
		Key  string         `json:"key"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("meshctl tail line: %v\n%s", err, line)
	}
	if ev.Type != "mesh.platform.v1.ProductChanged" || ev.Data["name"] != product || ev.Key != "catalog" {
		t.Errorf("meshctl tail event = %+v", ev)
	}

	// The NATS CLI sees the product's stream.
	info := run(t, ctx, filepath.Join(bin, "nats"), "--server", m.natsURL(), "stream", "info", "CATALOG_PRODUCT_CHANGES_V1", "--json")
	if !strings.Contains(info, `"dp.catalog.product-changes.v1.\u003e"`) && !strings.Contains(info, `"dp.catalog.product-changes.v1.>"`) {
		t.Errorf("nats stream info lacks the product's subjects:\n%s", info)
	}

	// Ctrl-C stops everything within 10 s.
	if took := m.stop(t); took > 10*time.Second {
		t.Errorf("the mesh took %s to stop after SIGINT, want under 10 s", took)
	}
	if !strings.Contains(m.out.String(), "stopped") {
		t.Errorf("no stop report:\n%s", m.out.String())
	}

	// A second run reuses the data: the registration is still revision 1, not registered anew.
	m2 := startMesh(t, bin, dir, freeOffset(t))
	global = []string{"--catalog", m2.catalogAddr(), "--nats", m2.natsURL()}
	ls = run(t, ctx, meshctl, append(global, "catalog", "ls", "-o", "json")...)
	if err := json.Unmarshal([]byte(ls), &list); err != nil {
		t.Fatalf("second run: meshctl catalog ls -o json: %v\n%s", err, ls)
	}
	if len(list) != 1 || list[0].Revision != "1" {
		t.Errorf("second run lists %+v, want %s still at revision 1", list, product)
	}
	info = run(t, ctx, filepath.Join(bin, "nats"), "--server", m2.natsURL(), "stream", "info", "CATALOG_PRODUCT_CHANGES_V1", "--json")
	if !strings.Contains(info, `"messages": 1,`) {
		t.Errorf("second run: the stream should still hold the one registration event:\n%s", info)
	}
	m2.stop(t)
}
