package catalogclient_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalogclient"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// script is a catalog stand-in answering registrations from a list of errors, then OK.
type script struct {
	platformv1.UnimplementedCatalogServiceServer
	mu       sync.Mutex
	answers  []error
	received []string
	onCall   func(n int)
}

func (s *script) RegisterProduct(_ context.Context, req *platformv1.RegisterProductRequest) (*platformv1.RegisterProductResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, req.GetDescriptor_().GetName())
	if s.onCall != nil {
		s.onCall(len(s.received))
	}
	if len(s.answers) > 0 {
		err := s.answers[0]
		s.answers = s.answers[1:]
		if err != nil {
			return nil, err
		}
	}
	return &platformv1.RegisterProductResponse{Revision: 1, Changed: true}, nil
}

func (s *script) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

func serve(t *testing.T, s *script) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	platformv1.RegisterCatalogServiceServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func product(name string) dataproduct.Product {
	return dataproduct.Product{
		Domain: "quality", Name: name, Major: 1, Owner: "quality-team", Contact: "#quality",
		Description: "Test product for the catalog client.", Message: &platformv1.ProductSummary{},
		Classification: dataproduct.ClassInternal, Freshness: time.Minute,
	}
}

func withDetails(t *testing.T, code codes.Code, msg string, details ...any) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		switch d := d.(type) {
		case *errdetails.BadRequest:
			st, err = st.WithDetails(d)
		case *errdetails.PreconditionFailure:
			st, err = st.WithDetails(d)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestRetriesUnavailable(t *testing.T) {
	t.Parallel()
	unavailable := status.Error(codes.Unavailable, "starting")
	s := &script{answers: []error{unavailable, unavailable, nil, unavailable}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := catalogclient.Register(ctx, serve(t, s), product("a"), product("b")); err != nil {
		t.Fatal(err)
	}
	want := []string{"quality.a.v1", "quality.a.v1", "quality.a.v1", "quality.b.v1", "quality.b.v1"}
	if got := s.calls(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("calls = %v, want %v", got, want)
	}
}

func TestFailsFast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		kind  errs.Kind
		parts []string
	}{
		{"governance", withDetails(t, codes.InvalidArgument, "quality.a.v1 breaks 1 governance rule(s): DP002",
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "descriptor.contact", Description: "DP002: contact is empty (hint: set it)"}}}),
			errs.Invalid, []string{"InvalidArgument", "descriptor.contact: DP002: contact is empty (hint: set it)"}},
		{"breaking", withDetails(t, codes.FailedPrecondition, "1 breaking schema change(s)",
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: "BREAKING_CHANGE", Subject: "mesh.x.v1.P.f", Description: "field removed"}}}),
			errs.FailedPrecondition, []string{"FailedPrecondition", "BREAKING_CHANGE mesh.x.v1.P.f: field removed"}},
		{"denied", status.Error(codes.PermissionDenied, "needs role service"), errs.Forbidden, []string{"needs role service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{answers: []error{tt.err}}
			err := catalogclient.Register(context.Background(), serve(t, s), product("a"), product("b"))
			if !errs.Is(err, tt.kind) {
				t.Fatalf("err = %v, want kind %v", err, tt.kind)
			}
			for _, p := range append(tt.parts, "quality.a.v1") {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("%q lacks %q", err, p)
				}
			}
			if got := s.calls(); len(got) != 1 {
				t.Errorf("calls = %v, want one and no retry", got)
			}
		})
	}
}

func TestGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &script{onCall: func(n int) {
		if n == 3 {
			cancel()
		}
	}}
	for range 10 {
		s.answers = append(s.answers, status.Error(codes.Unavailable, "down"))
	}
	err := catalogclient.Register(ctx, serve(t, s), product("a"))
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(err.Error(), "down") {
		t.Errorf("err = %v, want unavailable naming the last failure", err)
	}
}

func TestRejectsInvalidProducts(t *testing.T) {
	t.Parallel()
	s := &script{}
	bad := product("a")
	bad.Owner = ""
	if err := catalogclient.Register(context.Background(), serve(t, s), bad); !errs.Is(err, errs.Invalid) {
		t.Errorf("err = %v, want invalid", err)
	}
	if len(s.calls()) != 0 {
		t.Error("an invalid product reached the catalog")
	}
}
