package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshwork.dev/platform/testinfra"
)

// TestScaffoldedDomainJoinsTheMesh is docs/self-serve.md in commands: a mesh runs in a
// scratch repository and makes its service accounts; then a team scaffolds a domain with
// `meshctl new domain`, builds it, and starts the same mesh again. The launcher finds the domain
// by its service.json, gives it a service account in the .mesh made before it existed, and the
// domain registers its product, publishes a record created with grpcurl to its stream (read
// back with `meshctl tail`), and consumes the catalog's product changes.
func TestScaffoldedDomainJoinsTheMesh(t *testing.T) {
	root := repoRoot(t)
	bin := buildAll(t)
	repo := testinfra.ScratchRepo(t, root)
	dir := filepath.Join(enterableTempDir(t), ".mesh")
	t.Setenv("MESHCTL_CREDENTIALS", filepath.Join(t.TempDir(), "credentials.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	c := clients{bin: bin}

	// The mesh before the new domain: identity makes quality's service account.
	c.mesh = startMeshIn(t, bin, dir, repo, "--only", "identity,quality")
	before := accountNames(t, dir)
	if _, ok := before["inventory"]; ok || len(before) == 0 {
		t.Fatalf("service accounts before the domain existed: %v", before)
	}
	c.mesh.stop(t)

	meshctl := filepath.Join(bin, "meshctl")
	run(t, ctx, meshctl, "new", "domain", "inventory", "--root", repo,
		"--consumes", "catalog.product-changes.v1", "--consumes-message", "mesh.platform.v1.ProductChanged")
	var svc struct {
		GRPCPort int `json:"grpc_port"`
	}
	if b, err := os.ReadFile(filepath.Join(repo, "domains/inventory/service.json")); err != nil || json.Unmarshal(b, &svc) != nil || svc.GRPCPort != 7006 {
		t.Fatalf("domains/inventory/service.json: %v, grpc_port %d, want 7006 (basePorts keeps it free)", err, svc.GRPCPort)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./domains/inventory/cmd/...")
	build.Dir, build.Env = repo, append(os.Environ(), "GOWORK="+filepath.Join(repo, "go.work"), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the scaffolded domain: %v\n%s", err, out)
	}

	c.mesh = startMeshIn(t, bin, dir, repo, "--only", "identity,quality,inventory")
	if !strings.Contains(c.mesh.out.String(), "service accounts created for inventory") {
		t.Errorf("the second start did not create inventory's account alone:\n%s", c.mesh.out.String())
	}
	after := accountNames(t, dir)
	for name, id := range before {
		if after[name] != id {
			t.Errorf("account %s changed from %q to %q", name, id, after[name])
		}
	}
	if out := c.meshctl(t, ctx, "login", "--dev", "--mesh-dir", dir); !strings.Contains(out, "logged in") {
		t.Fatalf("meshctl login --dev:\n%s", out)
	}
	c.waitFor(t, ctx, []string{"inventory.records.v1"})
	if show := c.meshctl(t, ctx, "catalog", "show", "inventory.records.v1"); !strings.Contains(show, "mesh.inventory.v1.Record") {
		t.Errorf("meshctl catalog show inventory.records.v1:\n%s", show)
	}

	inventory := fmt.Sprintf("127.0.0.1:%d", 7006+c.mesh.offset)
	grpcurl := filepath.Join(bin, "grpcurl")
	auth := "authorization: Bearer " + c.token(t, ctx)
	created := run(t, ctx, grpcurl, "-plaintext", "-H", auth, "-d",
		`{"record":{"key":"bin-7","value":42,"recordedAt":"2026-12-07T04:00:00Z"}}`, inventory, "mesh.inventory.v1.InventoryService/CreateRecord")
	var resp struct {
		Record struct{ ID string } `json:"record"`
	}
	if err := json.Unmarshal([]byte(created), &resp); err != nil || resp.Record.ID == "" {
		t.Fatalf("grpcurl CreateRecord: %v\n%s", err, created)
	}
	if out, err := output(ctx, grpcurl, "-plaintext", "-H", auth, "-d", `{"record":{"key":"bin 7"}}`, inventory,
		"mesh.inventory.v1.InventoryService/CreateRecord"); err == nil || !strings.Contains(out, "InvalidArgument") || !strings.Contains(out, "key") {
		t.Errorf("grpcurl CreateRecord with a bad key: %v\n%s", err, out)
	}

	// The relay published the record: meshctl tail decodes it with the schema from the catalog.
	line := firstLine(t, ctx, meshctl, "--catalog", c.mesh.catalogAddr(), "--nats", c.mesh.natsURL(), "--identity", c.identityAddr(),
		"tail", "inventory.records.v1", "--key", "bin-7", "-n", "1")
	var ev struct {
		ID   string         `json:"id"`
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("meshctl tail inventory.records.v1: %v\n%s", err, line)
	}
	if ev.Type != "mesh.inventory.v1.Record" || ev.Data["id"] != resp.Record.ID || ev.Data["key"] != "bin-7" {
		t.Errorf("meshctl tail inventory.records.v1 = %+v, want record %s", ev, resp.Record.ID)
	}

	// Its consumer reads another product: the catalog's changes, keyed "catalog", which include
	// inventory's own registration.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := run(t, ctx, grpcurl, "-plaintext", "-H", auth, "-d", `{"key":"catalog"}`, inventory, "mesh.inventory.v1.InventoryService/GetUpstreamCount")
		var n struct {
			Count string `json:"count"`
		}
		if json.Unmarshal([]byte(out), &n) == nil && n.Count != "" && n.Count != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inventory consumed no catalog.product-changes.v1 event within 30 s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.mesh.stop(t)
}

// accountNames reads the launcher's service accounts file: client id by service name.
func accountNames(t *testing.T, dir string) map[string]string {
	t.Helper()
	var accounts map[string]struct {
		ClientID string `json:"client_id"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "service-accounts.json"))
	if err != nil || json.Unmarshal(b, &accounts) != nil {
		t.Fatalf("service-accounts.json: %v\n%s", err, b)
	}
	ids := map[string]string{}
	for name, a := range accounts {
		ids[name] = a.ClientID
	}
	return ids
}
