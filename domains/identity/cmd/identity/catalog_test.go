package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/testinfra"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// TestRegistersWhenTheCatalogComesUp starts identity while the catalog is down, then the real
// catalog binary on the address identity was given: the background registration goes
// through, with identity's own service token checked by the catalog against identity's JWKS.
func TestRegistersWhenTheCatalogComesUp(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "catalog")
	if out, err := exec.Command("go", "build", "-o", bin, "meshwork.dev/platform/cmd/catalog").CombinedOutput(); err != nil {
		t.Fatalf("build the catalog: %v\n%s", err, out)
	}
	catalogAddr := freeAddr(t)
	m := startWith(t, map[string]string{"CATALOG_ADDR": catalogAddr})

	pg := testinfra.StartPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"GRPC_ADDR=" + catalogAddr, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=error", "DATABASE_URL=" + pg.URL,
		"NATS_URL=" + m.env["NATS_URL"], "JWKS_URL=http://" + m.httpAddr + "/.well-known/jwks.json"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	// Catalog reads need a token (ADR 0005): the admin's session token.
	conn, err := grpc.NewClient(catalogAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.BearerToken(func(context.Context) (string, error) { return m.admin.access, nil })))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	catalog := platformv1.NewCatalogServiceClient(conn)
	deadline := time.Now().Add(2 * waitLimit)
	for {
		got, err := catalog.GetProduct(m.ctx, &platformv1.GetProductRequest{Name: stream.Users.ID()})
		if err == nil {
			d := got.GetDescriptor_()
			if d.GetOwner() != "identity-team" || d.GetClassification() != platformv1.Classification_CLASSIFICATION_CONFIDENTIAL {
				t.Errorf("registered %v", d)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("identity.users.v1 never registered: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
