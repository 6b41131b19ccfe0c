package main

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/meshctl/credstore"
)

// login signs ada in through the fake and fails t if it does not work.
func (c *cli) login() {
	c.t.Helper()
	c.run("pw\n"+c.code()+"\n", "login", "--email", "ada@example.com").wantCode(c.t, 0)
}

func TestToken(t *testing.T) {
	t.Parallel()
	c, f := newCLI(t)
	r := c.run("", "token")
	r.wantCode(t, 1)
	if r.stderr != "meshctl: not logged in: run meshctl login\n" || r.stdout != "" {
		t.Errorf("token without a session: stdout %q, stderr %q", r.stdout, r.stderr)
	}

	c.login()
	if r := c.run("", "token"); r.code != 0 || r.stdout != "access-1\n" {
		t.Fatalf("token = %d %q %q, want access-1", r.code, r.stdout, r.stderr)
	}
	c.clock.advance(15*time.Minute - 29*time.Second) // expires within 30 s: refreshed first
	if r := c.run("", "token"); r.code != 0 || r.stdout != "access-2\n" {
		t.Fatalf("token near expiry = %d %q %q, want access-2", r.code, r.stdout, r.stderr)
	}
	if req, _ := f.last(); !proto.Equal(req, &identityv1.RefreshRequest{RefreshToken: "refresh-1"}) {
		t.Errorf("refresh request %v, want refresh-1", req)
	}
	sess, _ := c.saved()
	if sess.AccessToken != "access-2" || sess.RefreshToken != "refresh-2" || sess.Email != "ada@example.com" {
		t.Errorf("saved after the refresh: %+v", sess)
	}
	if r := c.run("", "token", "-o", "json"); !strings.Contains(r.stdout, `"access_token": "access-2"`) {
		t.Errorf("token -o json = %q", r.stdout)
	}

	// Identity refuses the refresh (a reused token): the session is over.
	if err := credstore.Open(c.creds).Put(c.addr, credstore.Session{AccessToken: "access-old", AccessTokenExpiresAt: c.clock.now().Add(-time.Minute),
		RefreshToken: "refresh-1", RefreshTokenExpiresAt: c.clock.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r = c.run("", "token")
	r.wantCode(t, 1)
	if want := "meshctl: session ended (unauthenticated: refresh token reused: session revoked): run meshctl login\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	// Its refresh token expired too: no call at all.
	calls := f.count(&identityv1.RefreshRequest{})
	c.clock.advance(2 * time.Hour)
	r = c.run("", "token")
	if r.stderr != "meshctl: session expired: run meshctl login\n" || f.count(&identityv1.RefreshRequest{}) != calls {
		t.Errorf("expired session: stderr %q, %d refreshes (want %d)", r.stderr, f.count(&identityv1.RefreshRequest{}), calls)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	c, f := newCLI(t)
	c.login()
	r := c.run("", "logout")
	r.wantCode(t, 0)
	if r.stdout != "logged out of "+c.addr+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if req, bearer := f.last(); !proto.Equal(req, &identityv1.LogoutRequest{RefreshToken: "refresh-1"}) || bearer != "Bearer access-1" {
		t.Errorf("logout request %v with %q", req, bearer)
	}
	if _, ok := c.saved(); ok {
		t.Error("the session is still saved")
	}
	if r := c.run("", "logout"); r.code != 0 || r.stdout != "not logged in to "+c.addr+"\n" {
		t.Errorf("second logout = %d %q", r.code, r.stdout)
	}
	if r := c.run("", "users", "me"); r.stderr != "meshctl: not logged in: run meshctl login\n" {
		t.Errorf("users me after logout: %q", r.stderr)
	}
}

// TestSessionsPerIdentity keeps one session per identity address.
func TestSessionsPerIdentity(t *testing.T) {
	t.Parallel()
	c, _ := newCLI(t)
	other, _ := newCLI(t)
	other.creds = c.creds // the same file, another mesh
	c.login()
	if r := other.run("", "token"); r.stderr != "meshctl: not logged in: run meshctl login\n" {
		t.Errorf("token of another identity: %q", r.stderr)
	}
	other.login()
	if r := c.run("", "token"); r.stdout != "access-1\n" {
		t.Errorf("the first mesh's token after logging in to the second: %q", r.stdout)
	}
}

// TestCatalogSendsSessionToken: catalog calls carry --token, else the saved session's token,
// else nothing.
func TestCatalogSendsSessionToken(t *testing.T) {
	t.Parallel()
	c, _ := newCLI(t)
	var mu sync.Mutex
	var seen []string
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		seen = append(seen, strings.Join(md.Get("authorization"), ","))
		mu.Unlock()
		return h(ctx, req)
	}))
	platformv1.RegisterCatalogServiceServer(srv, &fakeCatalog{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	catalog := lis.Addr().String()

	c.run("", "catalog", "ls", "--catalog", catalog).wantCode(t, 0)
	c.login()
	c.run("", "catalog", "ls", "--catalog", catalog).wantCode(t, 0)
	c.run("", "catalog", "ls", "--catalog", catalog, "--token", "tok-x").wantCode(t, 0)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "Bearer access-1", "Bearer tok-x"}; !slices.Equal(seen, want) {
		t.Errorf("authorization headers %q, want %q", seen, want)
	}
}
