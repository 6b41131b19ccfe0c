package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshwork.dev/platform/chaos"
)

// repoRoot is the checkout's top directory: where go.work is.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := chaos.WorkspaceRoot()
	if err != nil {
		t.Fatalf("%v: the e2e tests run inside the workspace", err)
	}
	return root
}

// buildAll builds what `make build` builds, and installs the pinned grpcurl and NATS CLI
// from tools/go.mod with `go install`, all into one temporary bin directory.
func buildAll(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	bin := t.TempDir()
	if err := chaos.BuildAll(root, bin); err != nil {
		t.Fatal(err)
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

// products are the data products the mesh registers at start-up, by the catalog and every
// domain built so far.
var products = []string{"catalog.product-changes.v1", "identity.users.v1", "files.file-events.v1",
	"logistics.vehicle-positions.v1", "logistics.cell-travel-times.v1", "logistics.routes.v1",
	"quality.raw-readings.v1", "quality.clean-readings.v1", "quality.sensor-faults.v1", "quality.machine-health.v1",
	"scheduling.service-jobs.v1"}

// TestMeshEndToEnd starts the mesh as `make run` does, drives it with meshctl, grpcurl and
// the NATS CLI, stops it with SIGINT, and starts it again on the same data.
func TestMeshEndToEnd(t *testing.T) {
	bin := buildAll(t)
	dir := filepath.Join(enterableTempDir(t), ".mesh")
	t.Setenv("MESHCTL_CREDENTIALS", filepath.Join(t.TempDir(), "credentials.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	c := clients{bin: bin}

	m := startMesh(t, bin, dir)
	c.mesh = m
	// Catalog reads and NATS need a token: sign in as the bootstrapped admin first.
	if out := c.meshctl(t, ctx, "login", "--dev", "--mesh-dir", dir); !strings.Contains(out, "logged in") {
		t.Fatalf("meshctl login --dev:\n%s", out)
	}
	c.governance(t, ctx)
	revisions := c.waitForProducts(t, ctx)
	for _, p := range products {
		if revisions[p] != "1" {
			t.Errorf("%s at revision %q, want 1", p, revisions[p])
		}
	}
	if table := c.meshctl(t, ctx, "catalog", "ls"); !strings.Contains(table, "NAME") || !strings.Contains(table, products[0]) {
		t.Errorf("meshctl catalog ls table:\n%s", table)
	}
	// Every registered descriptor passes governance, checked offline by meshctl.
	if out := c.meshctl(t, ctx, "lint", "--catalog"); !strings.Contains(out, "no findings") {
		t.Errorf("meshctl lint --catalog:\n%s", out)
	}
	c.catalogThroughGRPCurl(t, ctx)
	c.tail(t, ctx)
	events := c.streamMessages(t, ctx, "CATALOG_PRODUCT_CHANGES_V1")
	if events == 0 {
		t.Error("catalog.product-changes.v1 is empty after every product registered")
	}
	c.identity(t, ctx, dir)
	c.maintenance(t, ctx)
	c.forgedHealth(t, ctx)
	c.piiViews(t, ctx)
	c.contracts(t, ctx)

	// Ctrl-C stops everything within 10 s.
	if took := m.stop(t); took > 10*time.Second {
		t.Errorf("the mesh took %s to stop after SIGINT, want under 10 s", took)
	}
	if !strings.Contains(m.out.String(), "stopped") {
		t.Errorf("no stop report:\n%s", m.out.String())
	}

	// A second run reuses the data: the same registrations, not registered anew; the admin is
	// not bootstrapped again and the saved session still works.
	m2 := restartMesh(t, bin, dir, m.offset)
	c.mesh = m2
	revisions = c.waitForProducts(t, ctx)
	for _, p := range products {
		if revisions[p] != "1" {
			t.Errorf("second run: %s at revision %q, want still 1", p, revisions[p])
		}
	}
	if n := c.streamMessages(t, ctx, "CATALOG_PRODUCT_CHANGES_V1"); n != events {
		t.Errorf("second run: %d registration events, want the first run's %d", n, events)
	}
	if strings.Contains(m2.out.String(), "created") {
		t.Errorf("second run bootstrapped again:\n%s", m2.out.String())
	}
	if tok := strings.TrimSpace(c.meshctl(t, ctx, "token")); strings.Count(tok, ".") != 2 {
		t.Errorf("second run: meshctl token = %q, want a JWT from the saved session", tok)
	}
	m2.stop(t)
}
