package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
)

// fakeClock is a settable clock shared by a TokenSource and the fake identity.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeIssuer is identity's client-credentials grant: it issues "tok-<n>" living life, for the
// client "quality" with secret "s3cret". It records the authorization header of GetMe calls.
type fakeIssuer struct {
	identityv1.UnimplementedIdentityServiceServer
	clock *fakeClock
	life  time.Duration

	mu      sync.Mutex
	calls   int
	fail    error         // returned instead of a token when set
	noExp   bool          // leave expires_at out
	release chan struct{} // when set, IssueServiceToken waits for it
	bearers []string
}

func (f *fakeIssuer) IssueServiceToken(ctx context.Context, req *identityv1.IssueServiceTokenRequest) (*identityv1.IssueServiceTokenResponse, error) {
	f.mu.Lock()
	f.calls++
	n, fail, noExp, release, life := f.calls, f.fail, f.noExp, f.release, f.life
	f.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	if req.GetClientId() != "quality" || req.GetClientSecret() != "s3cret" {
		return nil, status.Error(codes.Unauthenticated, "invalid client credentials")
	}
	resp := &identityv1.IssueServiceTokenResponse{AccessToken: fmt.Sprintf("tok-%d", n)}
	if !noExp {
		resp.ExpiresAt = timestamppb.New(f.clock.now().Add(life))
	}
	return resp, nil
}

func (f *fakeIssuer) GetMe(ctx context.Context, _ *identityv1.GetMeRequest) (*identityv1.GetMeResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bearers = append(f.bearers, md.Get("authorization")...)
	return &identityv1.GetMeResponse{}, nil
}

func (f *fakeIssuer) set(fn func(f *fakeIssuer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeIssuer) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// startIssuer serves a fakeIssuer on a loopback listener and returns it with a connection.
func startIssuer(t *testing.T) (*fakeIssuer, *grpc.ClientConn) {
	t.Helper()
	f := &fakeIssuer{clock: &fakeClock{t: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)}, life: 100 * time.Minute}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	identityv1.RegisterIdentityServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return f, conn
}

func newSource(f *fakeIssuer, conn *grpc.ClientConn, secret string) *TokenSource {
	ts := ClientCredentials(conn, "quality", secret)
	ts.now = f.clock.now
	return ts
}

// waitIdle waits until no issue call runs, so that its outcome is kept.
func waitIdle(t *testing.T, ts *TokenSource) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ts.mu.Lock()
		idle := ts.inflight == nil
		ts.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the issue call did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustToken(t *testing.T, ts *TokenSource, want string) {
	t.Helper()
	got, err := ts.Token(context.Background())
	if err != nil || got != want {
		t.Fatalf("Token = %q, %v; want %q", got, err, want)
	}
}

func TestClientCredentialsCachesAndRenews(t *testing.T) {
	t.Parallel()
	f, conn := startIssuer(t)
	ts := newSource(f, conn, "s3cret")
	mustToken(t, ts, "tok-1")
	mustToken(t, ts, "tok-1")
	f.clock.advance(79 * time.Minute) // before 80% of its 100 minutes
	mustToken(t, ts, "tok-1")
	if n := f.callCount(); n != 1 {
		t.Fatalf("%d issue calls before 80%% of the life, want 1", n)
	}
	f.clock.advance(2 * time.Minute)
	mustToken(t, ts, "tok-1") // still good: renewed in the background
	waitIdle(t, ts)
	mustToken(t, ts, "tok-2")
	if n := f.callCount(); n != 2 {
		t.Errorf("%d issue calls after the renewal, want 2", n)
	}
	f.clock.advance(101 * time.Minute) // tok-2 has expired: Token waits for tok-3
	mustToken(t, ts, "tok-3")
}

func TestClientCredentialsOutageKeepsGoodToken(t *testing.T) {
	t.Parallel()
	f, conn := startIssuer(t)
	ts := newSource(f, conn, "s3cret")
	mustToken(t, ts, "tok-1")
	f.set(func(f *fakeIssuer) { f.fail = status.Error(codes.Unavailable, "identity is down") })
	f.clock.advance(90 * time.Minute)
	mustToken(t, ts, "tok-1") // the renewal fails, the token is still good
	waitIdle(t, ts)
	mustToken(t, ts, "tok-1") // within a second of the failure: no new attempt
	if n := f.callCount(); n != 2 {
		t.Errorf("%d issue calls, want 2 (no retry within a second)", n)
	}
	f.clock.advance(9*time.Minute + 55*time.Second) // within the last 10 s: no longer handed out
	_, err := ts.Token(context.Background())
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Token near expiry with identity down = %v, want Unavailable", err)
	}
}

func TestClientCredentialsSingleFlight(t *testing.T) {
	t.Parallel()
	f, conn := startIssuer(t)
	release := make(chan struct{})
	f.set(func(f *fakeIssuer) { f.release = release })
	ts := newSource(f, conn, "s3cret")
	const callers = 8
	var wg sync.WaitGroup
	got := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = ts.Token(context.Background()) })
	}
	for f.callCount() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	for i := range callers {
		if got[i] != "tok-1" || errs[i] != nil {
			t.Errorf("caller %d got %q, %v; want tok-1", i, got[i], errs[i])
		}
	}
	if n := f.callCount(); n != 1 {
		t.Errorf("%d issue calls for %d concurrent callers, want 1", n, callers)
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	t.Parallel()
	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		f, conn := startIssuer(t)
		_, err := newSource(f, conn, "wrong").Token(context.Background())
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("Token with a wrong secret = %v, want Unauthenticated", err)
		}
	})
	t.Run("no expiry", func(t *testing.T) {
		t.Parallel()
		f, conn := startIssuer(t)
		f.set(func(f *fakeIssuer) { f.noExp = true })
		if _, err := newSource(f, conn, "s3cret").Token(context.Background()); err == nil {
			t.Error("Token accepted a token without expires_at")
		}
	})
	t.Run("already expired", func(t *testing.T) {
		t.Parallel()
		f, conn := startIssuer(t)
		f.set(func(f *fakeIssuer) { f.life = -time.Second })
		if _, err := newSource(f, conn, "s3cret").Token(context.Background()); err == nil {
			t.Error("Token accepted an expired token")
		}
	})
	t.Run("caller gives up", func(t *testing.T) {
		t.Parallel()
		f, conn := startIssuer(t)
		release := make(chan struct{})
		defer close(release)
		f.set(func(f *fakeIssuer) { f.release = release })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := newSource(f, conn, "s3cret").Token(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Token with a cancelled context = %v, want context.Canceled", err)
		}
	})
}

// TestClientCredentialsWithBearerToken sends the source's token with every call.
func TestClientCredentialsWithBearerToken(t *testing.T) {
	t.Parallel()
	f, conn := startIssuer(t)
	ts := newSource(f, conn, "s3cret")
	target := conn.Target()
	authed, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(BearerToken(ts.Token)))
	if err != nil {
		t.Fatal(err)
	}
	defer authed.Close()
	client := identityv1.NewIdentityServiceClient(authed)
	for range 2 {
		if _, err := client.GetMe(context.Background(), &identityv1.GetMeRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bearers) != 2 || f.bearers[0] != "Bearer tok-1" || f.bearers[1] != "Bearer tok-1" {
		t.Errorf("authorization headers %q, want Bearer tok-1 twice", f.bearers)
	}
	if f.calls != 1 {
		t.Errorf("%d issue calls for two RPCs, want 1", f.calls)
	}
}
