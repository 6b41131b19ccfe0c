package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"meshwork.dev/platform/testinfra"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"meshwork.dev/platform/auth/authtest"
)

// testService answers with the caller's subject, so tests see the Claims reach the handler.
type testService struct {
	testpb.UnimplementedTestServiceServer
}

func subject(ctx context.Context) string {
	if c, ok := FromContext(ctx); ok {
		return c.Subject
	}
	return "anonymous"
}

func (testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("subject", subject(ctx)))
	return &testpb.Empty{}, nil
}

func (testService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Username: subject(ctx)}, nil
}

func (testService) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, s grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	return s.SendHeader(metadata.Pairs("subject", subject(s.Context())))
}

func (testService) FullDuplexCall(s grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	return s.SendHeader(metadata.Pairs("subject", subject(s.Context())))
}

func (testService) HalfDuplexCall(grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	return nil
}

var testRules = Rules{
	testpb.TestService_EmptyCall_FullMethodName:           Public(),
	testpb.TestService_UnaryCall_FullMethodName:           Authenticated(),
	testpb.TestService_StreamingOutputCall_FullMethodName: AnyRole("admin", "dispatcher"),
	testpb.TestService_FullDuplexCall_FullMethodName:      AnyRole("admin").AllScopes("quality:write"),
	// HalfDuplexCall has no rule.
}

// startServer serves the test service behind a Guard on 127.0.0.1:0 and returns a client.
func startServer(t *testing.T, iss *authtest.Issuer, rules Rules, logs io.Writer) *grpc.ClientConn {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{JWKSURL: iss.JWKSURL(), Issuer: iss.Issuer, Audience: iss.Audience})
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(v, rules, slog.New(slog.NewTextHandler(logs, nil)))
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(g.Unary()), grpc.ChainStreamInterceptor(g.Stream()))
	testpb.RegisterTestServiceServer(srv, testService{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func withAuth(ctx context.Context, value string) context.Context {
	if value == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", value)
}

// call makes one RPC of the named kind and returns the subject the handler saw.
func call(ctx context.Context, conn *grpc.ClientConn, rpc string) (string, error) {
	c := testpb.NewTestServiceClient(conn)
	var hdr metadata.MD
	var err error
	switch rpc {
	case "EmptyCall":
		_, err = c.EmptyCall(ctx, &testpb.Empty{}, grpc.Header(&hdr))
	case "UnaryCall":
		var resp *testpb.SimpleResponse
		if resp, err = c.UnaryCall(ctx, &testpb.SimpleRequest{}); err == nil {
			return resp.Username, nil
		}
	case "StreamingOutputCall":
		var s grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse]
		if s, err = c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{}); err == nil {
			hdr, _ = s.Header()
			_, err = s.Recv()
		}
	case "FullDuplexCall", "HalfDuplexCall":
		var s grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]
		if rpc == "FullDuplexCall" {
			s, err = c.FullDuplexCall(ctx)
		} else {
			s, err = c.HalfDuplexCall(ctx)
		}
		if err == nil {
			_ = s.CloseSend()
			hdr, _ = s.Header()
			_, err = s.Recv()
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if v := hdr.Get("subject"); len(v) > 0 {
		return v[0], err
	}
	return "", err
}

func TestGuardOverGRPC(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	var logs testinfra.Output
	conn := startServer(t, iss, testRules, &logs)
	bearer := func(roles, scopes []string) string {
		return "Bearer " + iss.Token(t, "u-1", roles, scopes)
	}
	expired := "Bearer " + iss.Sign(t, map[string]any{"iss": iss.Issuer, "aud": iss.Audience, "sub": "u-1", "exp": 1})
	tests := []struct {
		name, rpc, auth string
		code            codes.Code
		subject         string
	}{
		{"public without token", "EmptyCall", "", codes.OK, "anonymous"},
		{"public with a valid token sees claims", "EmptyCall", bearer(nil, nil), codes.OK, "u-1"},
		{"public ignores a bad token", "EmptyCall", "Bearer garbage", codes.OK, "anonymous"},
		{"authenticated without token", "UnaryCall", "", codes.Unauthenticated, ""},
		{"authenticated with garbage", "UnaryCall", "Bearer garbage", codes.Unauthenticated, ""},
		{"authenticated with expired token", "UnaryCall", expired, codes.Unauthenticated, ""},
		{"authenticated with Basic auth", "UnaryCall", "Basic dTpw", codes.Unauthenticated, ""},
		{"authenticated with lower-case scheme", "UnaryCall", "bearer " + iss.Token(t, "u-1", nil, nil), codes.OK, "u-1"},
		{"authenticated ok", "UnaryCall", bearer(nil, nil), codes.OK, "u-1"},
		{"role stream, no token", "StreamingOutputCall", "", codes.Unauthenticated, ""},
		{"role stream, wrong role", "StreamingOutputCall", bearer([]string{"viewer"}, nil), codes.PermissionDenied, ""},
		{"role stream, one of the roles", "StreamingOutputCall", bearer([]string{"viewer", "dispatcher"}, nil), codes.OK, "u-1"},
		{"role+scope, role only", "FullDuplexCall", bearer([]string{"admin"}, nil), codes.PermissionDenied, ""},
		{"role+scope, scope only", "FullDuplexCall", bearer(nil, []string{"quality:write"}), codes.PermissionDenied, ""},
		{"role+scope, both", "FullDuplexCall", bearer([]string{"admin"}, []string{"quality:read", "quality:write"}), codes.OK, "u-1"},
		{"unlisted method, admin", "HalfDuplexCall", bearer([]string{"admin"}, []string{"quality:write"}), codes.PermissionDenied, ""},
		{"unlisted method again", "HalfDuplexCall", bearer([]string{"admin"}, nil), codes.PermissionDenied, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := call(withAuth(t.Context(), tt.auth), conn, tt.rpc)
			if code := status.Code(err); code != tt.code {
				t.Fatalf("code = %v (%v), want %v", code, err, tt.code)
			}
			if tt.code == codes.OK && got != tt.subject {
				t.Errorf("handler saw subject %q, want %q", got, tt.subject)
			}
		})
	}
	t.Cleanup(func() {
		if n := strings.Count(logs.String(), "no access rule"); n != 1 {
			t.Errorf("unlisted method logged %d times, want once:\n%s", n, logs.String())
		}
	})
}

func TestHealthAndReflectionAreOpenEvenWithoutRules(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	conn := startServer(t, iss, nil, io.Discard)
	ctx := t.Context()

	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health Check: %v", err)
	}
	s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	if n := len(resp.GetListServicesResponse().GetService()); n < 2 {
		t.Errorf("reflection listed %d services", n)
	}
	// Without rules, everything else fails closed, whatever the token.
	_, err = call(withAuth(ctx, "Bearer "+iss.Token(t, "root", []string{"admin"}, nil)), conn, "EmptyCall")
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("EmptyCall without rules: %v, want PermissionDenied", err)
	}
}

func TestBearerTokenCredentials(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	srvConn := startServer(t, iss, testRules, io.Discard)
	conn, err := grpc.NewClient(srvConn.Target(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(BearerToken(func(context.Context) (string, error) {
			return iss.Token(t, "svc-scheduling", nil, nil), nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := call(t.Context(), conn, "UnaryCall")
	if err != nil || got != "svc-scheduling" {
		t.Fatalf("UnaryCall with BearerToken = %q, %v", got, err)
	}

	failing, err := grpc.NewClient(srvConn.Target(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(BearerToken(func(context.Context) (string, error) {
			return "", errors.New("token endpoint down")
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer failing.Close()
	if _, err := call(t.Context(), failing, "UnaryCall"); err == nil {
		t.Fatal("a failing token source did not fail the call")
	}
}

func TestRuleString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule Rule
		want string
	}{
		{Public(), "public"},
		{Rule{}, "nobody"},
		{Authenticated(), "authenticated"},
		{AnyRole("admin", "dispatcher").AllScopes("quality:write"), "role admin or dispatcher and scope quality:write"},
		{AllScopes("a", "b"), "scope a and b"},
	}
	for _, tt := range tests {
		if got := tt.rule.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestRuleAllows(t *testing.T) {
	t.Parallel()
	admin := &Claims{Subject: "a", Roles: []string{"admin"}, Scopes: []string{"x", "y"}}
	tests := []struct {
		name string
		rule Rule
		c    *Claims
		want bool
	}{
		{"zero rule denies", Rule{}, admin, false},
		{"public without claims", Public(), nil, true},
		{"authenticated without claims", Authenticated(), nil, false},
		{"authenticated", Authenticated(), admin, true},
		{"empty role list matches nobody", AnyRole(), admin, false},
		{"two role sets both needed", AnyRole("admin").AnyRole("auditor"), admin, false},
		{"all scopes", AllScopes("x", "y"), admin, true},
		{"missing scope", AllScopes("x", "z"), admin, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.rule.Allows(tt.c); got != tt.want {
				t.Errorf("Allows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRuleCombinationDoesNotAlias(t *testing.T) {
	t.Parallel()
	base := AllScopes("a")
	x, y := base.AllScopes("b"), base.AllScopes("c")
	if x.String() != "scope a and b" || y.String() != "scope a and c" {
		t.Errorf("combined rules share state: %q, %q", x, y)
	}
}
