package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestHealthReflectionAndProbes(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	ctx := t.Context()

	hc := healthpb.NewHealthClient(h.conn)
	for _, svc := range []string{"", "grpc.testing.TestService"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health Check(%q) = %v, %v; want SERVING", svc, resp, err)
		}
	}

	stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"grpc.testing.TestService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}

	if code, body := h.get(t, "/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := h.get(t, "/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Errorf("/readyz without checks = %d %s", code, body)
	}

	if _, err := h.client().EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	// otelgrpc records the server span's duration after the response has
	// reached the client, so the first scrape may come before it: scrape
	// again until it shows or a deadline passes.
	wants := []string{"rpc_server_call_duration_seconds_count{", `rpc_method="grpc.testing.TestService/EmptyCall"`, `service_name="demo"`}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, metrics := h.get(t, "/metrics")
		var missing []string
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadyzFollowsItsChecks(t *testing.T) {
	t.Parallel()
	ns := testinfra.StartNATS(t)
	nc := ns.Connect(t)
	var broken sync.Mutex
	brokenErr := errors.New("disk full")
	failing := false
	h := start(t, harnessOptions{setup: func(s *service.Service) {
		s.Ready("nats", func(ctx context.Context) error {
			if !nc.IsConnected() {
				return errors.New("nats: " + nc.Status().String())
			}
			return nc.FlushWithContext(ctx)
		})
		s.Ready("disk", func(context.Context) error {
			broken.Lock()
			defer broken.Unlock()
			if failing {
				return brokenErr
			}
			return nil
		})
	}})

	type report struct {
		Status string `json:"status"`
		Checks map[string]struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"checks"`
	}
	readyz := func() (int, report) {
		code, body := h.get(t, "/readyz")
		var r report
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		return code, r
	}

	if code, r := readyz(); code != 200 || r.Status != "ready" || !r.Checks["nats"].OK || !r.Checks["disk"].OK {
		t.Fatalf("/readyz with NATS up = %d %+v", code, r)
	}

	broken.Lock()
	failing = true
	broken.Unlock()
	if code, r := readyz(); code != 503 || r.Status != "not ready" || r.Checks["disk"].Error != "disk full" || !r.Checks["nats"].OK {
		t.Errorf("/readyz with a failing check = %d %+v", code, r)
	}
	broken.Lock()
	failing = false
	broken.Unlock()

	ns.Server.Shutdown()
	if code, r := readyz(); code != 503 || r.Checks["nats"].OK || r.Checks["nats"].Error == "" {
		t.Errorf("/readyz with NATS down = %d %+v", code, r)
	}
}

func TestErrorsReachClientsAsStatusCodes(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	tests := []struct {
		body    string
		stream  bool
		code    codes.Code
		message string
		fields  []string
		logged  bool
	}{
		{body: "invalid", code: codes.InvalidArgument, message: "invalid argument", fields: []string{"payload.body", "response_size"}},
		{body: "invalid", stream: true, code: codes.InvalidArgument, message: "invalid argument", fields: []string{"payload.body", "response_size"}},
		{body: "notfound", code: codes.NotFound, message: "machine m-1"},
		{body: "status", code: codes.Aborted, message: "aborted by test"},
		{body: "wrapped-status", code: codes.NotFound, message: "no route"},
		{body: "canceled", code: codes.Canceled, message: "canceled"},
		{body: "internal", code: codes.Internal, message: "internal error (trace ", logged: true},
		{body: "panic", code: codes.Internal, message: "internal error (trace ", logged: true},
		{body: "panic", stream: true, code: codes.Internal, message: "internal error", logged: true},
	}
	for _, tt := range tests {
		var err error
		if tt.stream {
			err = streamOut(t.Context(), h.client(), tt.body)
		} else {
			err = unary(t.Context(), h.client(), tt.body)
		}
		st := status.Convert(err)
		if st.Code() != tt.code || !strings.HasPrefix(st.Message(), tt.message) {
			t.Errorf("%s (stream %v): %v, want %v %q", tt.body, tt.stream, err, tt.code, tt.message)
		}
		if strings.Contains(st.Message(), "EOF") || strings.Contains(st.Message(), "boom") {
			t.Errorf("%s: internal detail leaked to the client: %q", tt.body, st.Message())
		}
		var fields []string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
				}
			}
		}
		if !slices.Equal(fields, tt.fields) {
			t.Errorf("%s: BadRequest fields %v, want %v", tt.body, fields, tt.fields)
		}
	}

	// The process survived the panics and keeps serving.
	if err := unary(t.Context(), h.client(), "fine"); err != nil {
		t.Fatalf("call after panics: %v", err)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, `"msg":"internal error"`); n != 1 {
		t.Errorf("internal errors logged %d times, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, "unexpected EOF") {
		t.Error("the internal error's cause is not in the log")
	}
	if n := strings.Count(logs, `"msg":"panic in gRPC handler"`); n != 2 || !strings.Contains(logs, "goroutine ") {
		t.Errorf("panics logged %d times (want 2, with stacks):\n%s", n, logs)
	}
	for _, quiet := range []string{"machine m-1", "aborted by test", "must be a known command"} {
		if strings.Contains(logs, quiet) {
			t.Errorf("a caller's error was logged: %q", quiet)
		}
	}
}

func TestAuthIsWiredAndFailsClosed(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	ctx := t.Context()
	input := func(ctx context.Context, conn *grpc.ClientConn) (int32, error) {
		s, err := testpb.NewTestServiceClient(conn).StreamingInputCall(ctx)
		if err != nil {
			return 0, err
		}
		resp, err := s.CloseAndRecv()
		return resp.GetAggregatedPayloadSize(), err
	}
	if _, err := input(ctx, h.conn); status.Code(err) != codes.Unauthenticated {
		t.Errorf("admin-only stream without token: %v, want Unauthenticated", err)
	}
	viewer := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+h.iss.Token(t, "viewer-1", []string{"viewer"}, nil))
	if _, err := input(viewer, h.conn); status.Code(err) != codes.PermissionDenied {
		t.Errorf("admin-only stream as viewer: %v, want PermissionDenied", err)
	}
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+h.iss.Token(t, "admin-1", []string{"admin"}, nil))
	if n, err := input(admin, h.conn); err != nil || n != int32(len("admin-1")) {
		t.Errorf("admin-only stream as admin: %d, %v", n, err)
	}
	if _, err := h.client().UnimplementedCall(admin, &testpb.Empty{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("method without a rule: %v, want PermissionDenied", err)
	}

	// identity deactivates admin-1 (revocation.Follow feeds this from identity.users.v1): its
	// still valid token is refused at once, with a reason.
	h.svc.Revocations().Set("admin-1", false, time.Now())
	if _, err := input(admin, h.conn); status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), "deactivated") {
		t.Errorf("deactivated admin's token: %v, want Unauthenticated naming the deactivation", err)
	}

	bare := start(t, harnessOptions{noRules: true})
	if _, err := bare.client().EmptyCall(admin, &testpb.Empty{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("service without rules: %v, want PermissionDenied", err)
	}
	if _, err := healthpb.NewHealthClient(bare.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health on a service without rules: %v", err)
	}
}

func TestGracefulShutdownDrainsInFlightRPCs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var order []string
	var impl *testService
	h := start(t, harnessOptions{setup: func(s *service.Service) {
		for _, name := range []string{"first", "second"} {
			s.OnShutdown(func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				order = append(order, name)
				if impl.finished() != 1 {
					t.Errorf("hook %s ran before the in-flight RPC finished", name)
				}
				return nil
			})
		}
	}})
	impl = h.impl
	ctx := t.Context()

	watch, err := healthpb.NewHealthClient(h.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Watch = %v, %v", resp, err)
	}

	slow := make(chan error, 1)
	go func() { slow <- unary(ctx, h.client(), "slow") }()
	<-h.impl.started

	served := make(chan error, 1)
	go func() { served <- h.stop() }()

	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health during shutdown = %v, %v; want NOT_SERVING", resp, err)
	}
	if code, body := h.get(t, "/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz during shutdown = %d %s", code, body)
	}
	if code, _ := h.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz during shutdown = %d", code)
	}
	// Health watchers are told NOT_SERVING and then hung up on, so they do not hold up the drain.
	for {
		resp, err := watch.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("health Watch ended with %v, want Unavailable", err)
			}
			break
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health Watch during shutdown sent %v", resp.GetStatus())
		}
	}
	if impl.finished() != 0 {
		t.Fatal("the slow RPC finished before it was released")
	}

	h.impl.releaseAll()
	if err := <-slow; err != nil {
		t.Errorf("in-flight RPC during graceful shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after a clean shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []string{"second", "first"}) {
		t.Errorf("hooks ran in order %v, want reverse registration order", order)
	}
}

func TestShutdownTimeoutCutsOffStuckRPCs(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{shutdownTimeout: "100ms"})
	slow := make(chan error, 1)
	go func() { slow <- unary(context.Background(), h.client(), "slow") }()
	<-h.impl.started
	err := h.stop() // the RPC is only released at cleanup, so it must be cut off
	if err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("Serve = %v, want an error about cut-off RPCs", err)
	}
	if err := <-slow; status.Code(err) != codes.Unavailable {
		t.Errorf("stuck RPC after hard stop: %v, want Unavailable", err)
	}
}

func TestDialPropagatesTraceContext(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	conn, err := service.Dial(t.Context(), h.svc.GRPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, span := otel.Tracer("test").Start(t.Context(), "caller")
	defer span.End()
	var hdr metadata.MD
	if _, err := testpb.NewTestServiceClient(conn).EmptyCall(ctx, &testpb.Empty{}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	want := span.SpanContext().TraceID().String()
	if got := hdr.Get("trace-id"); len(got) != 1 || got[0] != want {
		t.Errorf("server saw trace %v, want %s", got, want)
	}
}

func TestDialWithBearerToken(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	conn, err := service.Dial(t.Context(), h.svc.GRPCAddr(), grpc.WithPerRPCCredentials(auth.BearerToken(
		func(context.Context) (string, error) {
			return h.iss.Token(t, "svc-quality", []string{"admin"}, nil), nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := testpb.NewTestServiceClient(conn).StreamingInputCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CloseAndRecv(); err != nil {
		t.Errorf("admin-only call with a service token: %v", err)
	}
}

func TestNewRejectsUnusableConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  service.Config
		want string
	}{
		{service.Config{}, "config: GRPC_ADDR: required but not set; HTTP_ADDR: required but not set"},
		{service.Config{GRPCAddr: "nope", HTTPAddr: ":0", LogLevel: "loud"},
			`config: GRPC_ADDR: "nope" is not host:port; LOG_LEVEL: "loud" is not debug, info, warn or error`},
	}
	for _, tt := range tests {
		_, err := service.New(t.Context(), "demo", tt.cfg)
		var ce *service.ConfigError
		if !errors.As(err, &ce) || err.Error() != tt.want {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestCloseReleasesWhatNewTook(t *testing.T) {
	t.Parallel()
	cfg := service.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}
	svc, err := service.New(t.Context(), "demo", cfg, service.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{svc.GRPCAddr(), svc.HTTPAddr()}
	if err := svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, addr := range addrs {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s still bound after Close: %v", addr, err)
		}
		_ = lis.Close()
	}
	if err := svc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := svc.Serve(t.Context()); err == nil {
		t.Error("Serve after Close succeeded")
	}
}

// TestRunOnPortZero drives a domain-style run function the way component tests will.
func TestRunOnPortZero(t *testing.T) {
	t.Parallel()
	ns := testinfra.StartNATS(t)
	addrs := make(chan [2]string, 1)
	ctx, cancel := context.WithCancel(service.NotifyServing(t.Context(), func(g, h string) { addrs <- [2]string{g, h} }))
	done := make(chan error, 1)
	go func() {
		done <- demoRun(ctx, env(map[string]string{"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "NATS_URL": ns.URL}), io.Discard)
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	}
	conn, err := service.Dial(ctx, a[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v", resp, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}

// demoRun is a domain's run function in miniature: config, NATS, readiness, serve.
func demoRun(ctx context.Context, getenv func(string) string, logs io.Writer) error {
	var cfg struct {
		service.Config
		Greeting string `env:"GREETING" default:"hello"`
	}
	cfg.Config = service.Defaults(":7099", ":8099")
	if err := service.LoadConfig(getenv, &cfg); err != nil {
		return err
	}
	svc, err := service.New(ctx, "demo", cfg.Config, service.WithAuthRules(testRules), service.WithLogOutput(logs))
	if err != nil {
		return err
	}
	nc, err := nats.Connect(cfg.NATSURL)
	if err != nil {
		return err
	}
	svc.OnShutdown(func(context.Context) error { return nc.Drain() })
	svc.Ready("nats", func(ctx context.Context) error { return nc.FlushWithContext(ctx) })
	testpb.RegisterTestServiceServer(svc.GRPC(), newTestService())
	return svc.Serve(ctx)
}
