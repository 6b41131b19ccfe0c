package service_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/service"
)

// grantIssuer is identity's client-credentials grant: it signs admin tokens with iss for the
// client "quality" with the secret "s3cret".
type grantIssuer struct {
	identityv1.UnimplementedIdentityServiceServer
	t   *testing.T
	iss *authtest.Issuer
}

func (g grantIssuer) IssueServiceToken(_ context.Context, req *identityv1.IssueServiceTokenRequest) (*identityv1.IssueServiceTokenResponse, error) {
	if req.GetClientId() != "quality" || req.GetClientSecret() != "s3cret" {
		return nil, status.Error(codes.Unauthenticated, "invalid client credentials")
	}
	tok := g.iss.Token(g.t, "svc-quality", []string{"admin"}, nil)
	return &identityv1.IssueServiceTokenResponse{AccessToken: tok, ExpiresAt: timestamppb.New(time.Now().Add(5 * time.Minute))}, nil
}

// startGrantIssuer serves a grantIssuer and returns its address.
func startGrantIssuer(t *testing.T, iss *authtest.Issuer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	identityv1.RegisterIdentityServiceServer(srv, grantIssuer{t: t, iss: iss})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// TestCredentials calls a method that needs the admin role with the service account's token,
// with a wrong secret, and without an account.
func TestCredentials(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	identityAddr := startGrantIssuer(t, h.iss)
	tests := []struct {
		name string
		sa   service.ServiceAccount
		want codes.Code
	}{
		{"account", service.ServiceAccount{IdentityAddr: identityAddr, ClientID: "quality", ClientSecret: "s3cret"}, codes.OK},
		{"wrong secret", service.ServiceAccount{IdentityAddr: identityAddr, ClientID: "quality", ClientSecret: "nope"}, codes.Unauthenticated},
		{"no account", service.ServiceAccount{IdentityAddr: identityAddr}, codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := h.svc.Credentials(t.Context(), tt.sa)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := service.Dial(t.Context(), h.svc.GRPCAddr(), creds)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			stream, err := testpb.NewTestServiceClient(conn).StreamingInputCall(t.Context())
			if err == nil {
				var resp *testpb.StreamingInputCallResponse
				resp, err = stream.CloseAndRecv()
				if err == nil && resp.GetAggregatedPayloadSize() != int32(len("svc-quality")) {
					t.Errorf("the handler saw a subject of %d bytes, want svc-quality's", resp.GetAggregatedPayloadSize())
				}
			}
			if status.Code(err) != tt.want {
				t.Errorf("call = %v, want %v", err, tt.want)
			}
		})
	}
	if !strings.Contains(h.logs.String(), "no service account (SERVICE_CLIENT_ID is not set)") {
		t.Errorf("no warning about the missing account in the logs:\n%s", h.logs.String())
	}
}

func TestCredentialsConfigErrors(t *testing.T) {
	t.Parallel()
	h := start(t, harnessOptions{})
	for sa, want := range map[service.ServiceAccount]string{
		{IdentityAddr: "127.0.0.1:7001", ClientID: "quality"}:    "SERVICE_CLIENT_SECRET: required with SERVICE_CLIENT_ID",
		{IdentityAddr: "127.0.0.1:7001", ClientSecret: "s3cret"}: "SERVICE_CLIENT_ID: required with SERVICE_CLIENT_SECRET",
		{ClientID: "quality", ClientSecret: "s3cret"}:            "IDENTITY_ADDR: required with a service account",
	} {
		_, err := h.svc.Credentials(t.Context(), sa)
		var ce *service.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("Credentials(%+v) = %v, want a *ConfigError with %q", sa, err, want)
		}
	}
}
