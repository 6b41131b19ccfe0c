package main

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// waitLimit keeps a broken test from hanging; nothing asserts on durations.
const waitLimit = 60 * time.Second

// underTest is run() on port 0 against its own Postgres database, Redis and NATS.
type underTest struct {
	ctx    context.Context
	client logisticsv1.LogisticsServiceClient
	iss    *authtest.Issuer
	nc     *nats.Conn
	js     jetstream.JetStream
}

func start(t testing.TB, overrides map[string]string) *underTest {
	t.Helper()
	pg := testinfra.StartPostgres(t)
	rd := testinfra.StartRedis(t)
	n := testinfra.StartNATS(t)
	iss := authtest.NewIssuer(t)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "error",
		"DATABASE_URL": pg.URL, "REDIS_URL": rd.URL, "NATS_URL": n.URL, "CATALOG_ADDR": "127.0.0.1:1",
		"JWKS_URL": iss.JWKSURL(), "CITY_RADIUS_CELLS": "30", "TRAVEL_TIMES_INTERVAL": "200ms",
	}
	maps.Copy(env, overrides)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(service.NotifyServing(ctx, func(g, _ string) { addrs <- g }), func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	})
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("logistics did not start")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	tctx, tcancel := context.WithTimeout(context.Background(), 3*waitLimit)
	t.Cleanup(tcancel)
	return &underTest{ctx: tctx, client: logisticsv1.NewLogisticsServiceClient(conn), iss: iss, nc: n.Connect(t), js: n.JetStream(t)}
}

// as returns a context carrying a token with roles (none: no token at all).
func (u *underTest) as(t testing.TB, roles ...string) context.Context {
	t.Helper()
	if len(roles) == 0 {
		return u.ctx
	}
	return metadata.AppendToOutgoingContext(u.ctx, "authorization", "Bearer "+u.iss.Token(t, "user-"+roles[0], roles, nil))
}

// violations returns the fields named by an InvalidArgument status.
func violations(t *testing.T, err error) []string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}
