package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/meshctl/totp"
)

// testClock is the clock shared by a test's meshctl runs and its fake identity.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// totpSecret is the fake accounts' TOTP secret.
const totpSecret = "JBSWY3DPEHPK3PXP"

// fakeIdentity plays identity for meshctl: ada@example.com (password "pw", TOTP enrolled,
// recovery code "rc-1") and new@example.com (one-time password "otp", no TOTP yet: it gets an
// enrolment session until it has enrolled TOTP and changed its password). Each TOTP code works
// once. Tokens are "access-N" and "refresh-N"; only the latest refresh token refreshes. Every
// RPC but Login, Refresh and the enrolment needs "Bearer access-…" or "Bearer tok-flag". It
// records every request and its authorization header.
type fakeIdentity struct {
	identityv1.UnimplementedIdentityServiceServer
	clock *testClock

	mu          sync.Mutex
	newEnrolled bool   // new@ has enrolled TOTP
	newPassword string // new@'s password once changed
	issued      int
	used        map[string]bool // TOTP codes
	requests    []proto.Message
	bearers     []string // authorization header of each request, "" for none
}

// startIdentity serves a fakeIdentity on a loopback port.
func startIdentity(t *testing.T, clock *testClock) (*fakeIdentity, string) {
	t.Helper()
	f := &fakeIdentity{clock: clock, used: map[string]bool{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(f.intercept))
	identityv1.RegisterIdentityServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f, lis.Addr().String()
}

// intercept records the request and checks the bearer token.
func (f *fakeIdentity) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	bearer := strings.Join(md.Get("authorization"), ",")
	f.mu.Lock()
	f.requests = append(f.requests, req.(proto.Message))
	f.bearers = append(f.bearers, bearer)
	f.mu.Unlock()
	switch info.FullMethod {
	case identityv1.IdentityService_Login_FullMethodName, identityv1.IdentityService_Refresh_FullMethodName:
	case identityv1.IdentityService_BeginTotpEnrollment_FullMethodName, identityv1.IdentityService_ConfirmTotpEnrollment_FullMethodName,
		identityv1.IdentityService_ChangePassword_FullMethodName:
		if bearer != "Bearer enrol-token" {
			return nil, status.Error(codes.Unauthenticated, "enrolment token required")
		}
	default:
		if !strings.HasPrefix(bearer, "Bearer access-") && bearer != "Bearer tok-flag" {
			return nil, status.Error(codes.Unauthenticated, "missing or invalid token")
		}
	}
	return handler(ctx, req)
}

// last returns the last request and its authorization header.
func (f *fakeIdentity) last() (proto.Message, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return nil, ""
	}
	return f.requests[len(f.requests)-1], f.bearers[len(f.bearers)-1]
}

// count returns how many requests of m's type identity received.
func (f *fakeIdentity) count(m proto.Message) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.ProtoReflect().Descriptor() == m.ProtoReflect().Descriptor() {
			n++
		}
	}
	return n
}

// tokensLocked issues the next pair. f.mu must be held.
func (f *fakeIdentity) tokensLocked() *identityv1.Tokens {
	f.issued++
	now := f.clock.now()
	return &identityv1.Tokens{AccessToken: fmt.Sprintf("access-%d", f.issued), AccessTokenExpiresAt: timestamppb.New(now.Add(15 * time.Minute)),
		RefreshToken: fmt.Sprintf("refresh-%d", f.issued), RefreshTokenExpiresAt: timestamppb.New(now.Add(24 * time.Hour))}
}

// codeOK spends a TOTP code if it is current and unused. f.mu must be held.
func (f *fakeIdentity) codeOKLocked(code string) bool {
	want, _ := totp.Code(totpSecret, f.clock.now())
	if code != want || f.used[code] {
		return false
	}
	f.used[code] = true
	return true
}

func (f *fakeIdentity) Login(_ context.Context, req *identityv1.LoginRequest) (*identityv1.LoginResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	enrolment := &identityv1.LoginResponse{Tokens: &identityv1.Tokens{AccessToken: "enrol-token"}}
	switch {
	case req.GetEmail() == "new@example.com" && req.GetPassword() == "otp" && !f.newEnrolled:
		enrolment.TotpEnrollmentRequired = true
		return enrolment, nil
	case req.GetEmail() == "new@example.com" && req.GetPassword() == "otp" && f.codeOKLocked(req.GetTotpCode()):
		return enrolment, nil // enrolled, but the one-time password is still to be changed
	case req.GetEmail() == "new@example.com" && f.newPassword != "" && req.GetPassword() == f.newPassword && f.codeOKLocked(req.GetTotpCode()):
	case req.GetEmail() != "ada@example.com" || req.GetPassword() != "pw":
		return nil, status.Error(codes.Unauthenticated, "invalid credentials")
	case req.GetRecoveryCode() == "rc-1":
	case !f.codeOKLocked(req.GetTotpCode()):
		return nil, status.Error(codes.Unauthenticated, "invalid credentials")
	}
	return &identityv1.LoginResponse{Tokens: f.tokensLocked()}, nil
}

func (f *fakeIdentity) Refresh(_ context.Context, req *identityv1.RefreshRequest) (*identityv1.RefreshResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.GetRefreshToken() != fmt.Sprintf("refresh-%d", f.issued) {
		return nil, status.Error(codes.Unauthenticated, "refresh token reused: session revoked")
	}
	return &identityv1.RefreshResponse{Tokens: f.tokensLocked()}, nil
}

func (f *fakeIdentity) Logout(context.Context, *identityv1.LogoutRequest) (*identityv1.LogoutResponse, error) {
	return &identityv1.LogoutResponse{}, nil
}

func (f *fakeIdentity) BeginTotpEnrollment(context.Context, *identityv1.BeginTotpEnrollmentRequest) (*identityv1.BeginTotpEnrollmentResponse, error) {
	return &identityv1.BeginTotpEnrollmentResponse{OtpauthUri: "otpauth://totp/Meshwork:new@example.com?secret=" + totpSecret}, nil
}

func (f *fakeIdentity) ConfirmTotpEnrollment(_ context.Context, req *identityv1.ConfirmTotpEnrollmentRequest) (*identityv1.ConfirmTotpEnrollmentResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.codeOKLocked(req.GetCode()) {
		return nil, status.Error(codes.InvalidArgument, "wrong code")
	}
	f.newEnrolled = true
	return &identityv1.ConfirmTotpEnrollmentResponse{RecoveryCodes: []string{"rc-a", "rc-b"}}, nil
}

func (f *fakeIdentity) ChangePassword(_ context.Context, req *identityv1.ChangePasswordRequest) (*identityv1.ChangePasswordResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.GetCurrentPassword() != "otp" {
		return nil, status.Error(codes.Unauthenticated, "wrong password")
	}
	f.newPassword = req.GetNewPassword()
	f.clock.advance(totp.Step) // the person waits for the app's next code
	return &identityv1.ChangePasswordResponse{}, nil
}

// cli runs meshctl against one fake identity with its own credentials file and clock.
type cli struct {
	t     *testing.T
	addr  string
	creds string
	clock *testClock
}

func newCLI(t *testing.T) (*cli, *fakeIdentity) {
	t.Helper()
	clock := &testClock{t: fixedNow}
	f, addr := startIdentity(t, clock)
	return &cli{t: t, addr: addr, creds: filepath.Join(t.TempDir(), "config", "meshwork", "credentials.json"), clock: clock}, f
}

// run runs meshctl with stdin and --identity pointing at the fake; the sleeps of the run
// advance the clock.
func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	env := map[string]string{"MESHCTL_CREDENTIALS": c.creds, "IDENTITY_ADDR": c.addr}
	var stdout, stderr bytes.Buffer
	a := newApp(func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	a.now = c.clock.now
	a.sleep = func(_ context.Context, d time.Duration) error { c.clock.advance(d); return nil }
	code := a.run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// code is the current TOTP code.
func (c *cli) code() string {
	code, err := totp.Code(totpSecret, c.clock.now())
	if err != nil {
		c.t.Fatal(err)
	}
	return code
}
