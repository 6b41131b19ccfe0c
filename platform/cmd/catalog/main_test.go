package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// waitLimit keeps a broken test from hanging; nothing asserts on durations.
const waitLimit = 30 * time.Second

// publicNATS is what exported contracts must name as the server.
const publicNATS = "nats://nats.mesh.example:4222"

// catalogUnderTest is run() on port 0 against its own Postgres database and NATS server.
type catalogUnderTest struct {
	ctx      context.Context
	httpAddr string
	js       jetstream.JetStream
	anon     platformv1.CatalogServiceClient // no token
	svc      platformv1.CatalogServiceClient // a service account's token
	viewer   platformv1.CatalogServiceClient // a token without the service role
	svcConn  *grpc.ClientConn
	nats     *testinfra.NATS
	iss      *authtest.Issuer
	grpcAddr string
}

func start(t *testing.T) *catalogUnderTest {
	t.Helper()
	pg := testinfra.StartPostgres(t)
	n := testinfra.StartNATS(t)
	iss := authtest.NewIssuer(t)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "error",
		"DATABASE_URL": pg.URL, "NATS_URL": n.URL, "NATS_PUBLIC_URL": publicNATS, "JWKS_URL": iss.JWKSURL(),
		// The catalog answers the server's auth callout, as under meshctl up.
		"NATS_ISSUER_SEED": n.Keys.IssuerSeed, "NATS_AUTH_PASSWORD": n.Keys.AuthPassword,
		"NATS_SYSTEM_PASSWORD": n.Keys.SystemPassword, "NATS_IDENTITY_PASSWORD": n.Keys.IdentityPassword,
		"ACCESS_SEED": "scheduling=quality.summaries.v1", "PII_HASH_KEY": "bWVzaHdvcmstdGVzdC1waWkta2V5LTMyLWJ5dGVzISE=",
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(service.NotifyServing(ctx, func(g, h string) { addrs <- [2]string{g, h} }), func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	})
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		done <- nil // the cleanup waits for run's end, which this was
		t.Fatalf("run: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("catalog did not start")
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 2*waitLimit)
	t.Cleanup(tcancel)
	c := &catalogUnderTest{ctx: tctx, httpAddr: a[1], js: n.JetStream(t), nats: n, iss: iss, grpcAddr: a[0]}
	dial := func(token string) *grpc.ClientConn {
		opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if token != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(auth.BearerToken(func(context.Context) (string, error) { return token, nil })))
		}
		conn, err := grpc.NewClient(a[0], opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	c.svcConn = dial(iss.Token(t, "svc-quality", []string{"service"}, nil))
	c.anon = platformv1.NewCatalogServiceClient(dial(""))
	c.svc = platformv1.NewCatalogServiceClient(c.svcConn)
	c.viewer = platformv1.NewCatalogServiceClient(dial(iss.Token(t, "someone", []string{"viewer"}, nil)))
	return c
}

// register registers d with the service token and fails the test on an error.
func (c *catalogUnderTest) register(t *testing.T, d *platformv1.DataProductDescriptor) *platformv1.RegisterProductResponse {
	t.Helper()
	resp, err := c.svc.RegisterProduct(c.ctx, &platformv1.RegisterProductRequest{Descriptor_: d})
	if err != nil {
		t.Fatalf("RegisterProduct %s: %v", d.GetName(), err)
	}
	return resp
}

// get fetches GET path from the HTTP server.
func (c *catalogUnderTest) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, "http://"+c.httpAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// poll calls cond until it reports true, failing the test after waitLimit.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// code returns err's status code and details.
func code(err error) (codes.Code, []any) {
	st, _ := status.FromError(err)
	return st.Code(), st.Details()
}

// badRequest returns the field violations of err as "field: description".
func badRequest(err error) map[string]string {
	out := map[string]string{}
	_, details := code(err)
	for _, d := range details {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out[v.GetField()] = v.GetDescription()
			}
		}
	}
	return out
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GRPC_ADDR": "nonsense"}
	err := run(context.Background(), func(k string) string { return env[k] })
	var ce *service.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "DATABASE_URL: required but not set") || !strings.Contains(err.Error(), "GRPC_ADDR") {
		t.Errorf("run without DATABASE_URL and with a bad GRPC_ADDR: %v, want a config error naming both", err)
	}
}
