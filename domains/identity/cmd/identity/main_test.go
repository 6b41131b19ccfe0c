package main

import (
	"context"
	"maps"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/kek"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/totp"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// waitLimit keeps a broken test from hanging; nothing asserts on durations.
const waitLimit = 60 * time.Second

// downCatalog is an address where nothing listens: registration keeps retrying in the
// background while every test runs.
const downCatalog = "127.0.0.1:1"

// identityUnderTest is run() on port 0 against its own Postgres database, Redis and NATS.
type identityUnderTest struct {
	ctx      context.Context
	grpcAddr string
	httpAddr string
	env      map[string]string
	pool     *pgxpool.Pool
	js       jetstream.JetStream
	anon     identityv1.IdentityServiceClient
	admin    *person

	mu      sync.Mutex
	secrets []string // every secret seen, for the event scan
}

// start bootstraps an admin (as `identity bootstrap-admin` does), starts the service and
// signs the admin in with password and TOTP.
func start(t testing.TB) *identityUnderTest {
	t.Helper()
	return startWith(t, nil)
}

// startWith is start with some environment variables set differently.
func startWith(t testing.TB, overrides map[string]string) *identityUnderTest {
	t.Helper()
	pg := testinfra.StartPostgres(t)
	rd := testinfra.StartRedis(t)
	n := testinfra.StartNATS(t)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "error",
		"DATABASE_URL": pg.URL, "REDIS_URL": rd.URL, "NATS_URL": n.URL, "CATALOG_ADDR": downCatalog,
		"KEY_ENCRYPTION_KEY": kek.Generate(),
	}
	maps.Copy(env, overrides)
	tctx, tcancel := context.WithTimeout(context.Background(), 5*waitLimit)
	t.Cleanup(tcancel)
	pool := pg.Pool(t)
	key, _ := kek.Parse(env["KEY_ENCRYPTION_KEY"])
	store := postgres.New(pool, key, stream.Message)
	if err := store.Migrate(tctx); err != nil {
		t.Fatal(err)
	}
	boot, err := bootstrapAdmin(tctx, store, "root@meshwork.example")
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	// finished is closed when run returns; runErr is its result. Both the start-up wait and the
	// cleanup may look at it, so a run that fails early cannot leave the cleanup waiting forever.
	finished := make(chan struct{})
	var runErr error
	go func() {
		defer close(finished)
		runErr = run(service.NotifyServing(ctx, func(g, h string) { addrs <- [2]string{g, h} }), func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
		if runErr != nil {
			t.Errorf("run after shutdown: %v", runErr)
		}
	})
	var a [2]string
	select {
	case a = <-addrs:
	case <-finished:
		t.Fatalf("run: %v", runErr)
	case <-time.After(waitLimit):
		t.Fatal("identity did not start")
	}
	m := &identityUnderTest{ctx: tctx, grpcAddr: a[0], httpAddr: a[1], env: env, pool: pool, js: n.JetStream(t)}
	m.anon = m.client(t, "")
	secret, err := totp.DecodeSecret(boot.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	m.admin = &person{email: boot.Email, password: boot.Password, secret: secret}
	m.remember(boot.Password, boot.TOTPSecret)
	resp, err := m.anon.Login(tctx, &identityv1.LoginRequest{Email: boot.Email, Password: boot.Password, TotpCode: totp.Code(secret, time.Now())})
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	m.admin.use(m, resp.GetTokens())
	m.admin.id = m.subject(t, m.admin.access)
	return m
}

// store opens the service's store on the same database and KEK, as the subcommands do.
func (m *identityUnderTest) store(t testing.TB) *postgres.Store {
	t.Helper()
	key, err := kek.Parse(m.env["KEY_ENCRYPTION_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	return postgres.New(m.pool, key, stream.Message)
}

// client returns an IdentityService client sending token (none when empty).
func (m *identityUnderTest) client(t testing.TB, token string) identityv1.IdentityServiceClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(auth.BearerToken(func(context.Context) (string, error) { return token, nil })))
	}
	conn, err := grpc.NewClient(m.grpcAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return identityv1.NewIdentityServiceClient(conn)
}

// verifier is platform/auth's verifier as another service builds it: the mesh audience and
// identity's public JWKS endpoint.
func (m *identityUnderTest) verifier(t testing.TB) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: "http://" + m.httpAddr + "/.well-known/jwks.json",
		Issuer: "meshwork-identity", Audience: "meshwork", RefreshMinInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claims verifies a full-session token as another service would.
func (m *identityUnderTest) claims(t testing.TB, token string) *auth.Claims {
	t.Helper()
	c, err := m.verifier(t).Verify(m.ctx, token)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return c
}

// subject returns a token's sub without checking the audience (enrolment tokens too).
func (m *identityUnderTest) subject(t testing.TB, token string) string {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: "http://" + m.httpAddr + "/.well-known/jwks.json",
		Issuer: "meshwork-identity", Audience: "meshwork/identity", RefreshMinInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(m.ctx, token)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return c.Subject
}

// remember notes secrets the event scan must not find.
func (m *identityUnderTest) remember(secrets ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			m.secrets = append(m.secrets, s)
		}
	}
}

// wantCode fails t unless err has code.
func wantCode(t testing.TB, what string, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("%s: %v (%v), want %v", what, got, err, code)
	}
}

// secretOf reads the TOTP secret from an otpauth URI.
func secretOf(t testing.TB, uri string) []byte {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	s, err := totp.DecodeSecret(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// freshCode is a code of secret for a step after now, which no earlier test step used
// (enrolment and sign-ins use the current step), accepted thanks to the ±1 skew.
func freshCode(secret []byte) string { return totp.Code(secret, time.Now().Add(totp.Period)) }

var emailSeq atomic.Int64

// email returns a unique address with prefix.
func email(prefix string) string {
	return prefix + "-" + strconv.FormatInt(emailSeq.Add(1), 10) + "@meshwork.example"
}
