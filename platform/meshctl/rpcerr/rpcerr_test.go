package rpcerr_test

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"meshwork.dev/platform/meshctl/rpcerr"
)

// withDetails returns a status error carrying details.
func withDetails(t *testing.T, c codes.Code, msg string, details ...protoadapt.MessageV1) error {
	t.Helper()
	st, err := status.New(c, msg).WithDetails(details...)
	if err != nil {
		t.Fatalf("WithDetails: %v", err)
	}
	return st.Err()
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want string
	}{
		{
			name: "nil",
			err:  func(*testing.T) error { return nil },
			want: "",
		},
		{
			name: "plain error",
			err:  func(*testing.T) error { return errors.New("dial tcp: connection refused") },
			want: "dial tcp: connection refused",
		},
		{
			name: "status without details",
			err:  func(*testing.T) error { return status.Error(codes.NotFound, `product "x.y.v1" is not registered`) },
			want: `not found: product "x.y.v1" is not registered`,
		},
		{
			name: "wrapped status",
			err: func(*testing.T) error {
				return fmt.Errorf("catalog show: %w", status.Error(codes.Unavailable, "connection refused"))
			},
			want: "unavailable: connection refused",
		},
		{
			name: "bad request",
			err: func(t *testing.T) error {
				return withDetails(t, codes.InvalidArgument, "descriptor breaks governance rules", &errdetails.BadRequest{
					FieldViolations: []*errdetails.BadRequest_FieldViolation{
						{Field: "owner", Description: "DP002: owner is not set"},
						{Field: "payload.email", Description: "DP005: not marked pii"},
					},
				})
			},
			want: "invalid argument: descriptor breaks governance rules [owner: DP002: owner is not set; payload.email: DP005: not marked pii]",
		},
		{
			name: "precondition failure",
			err: func(t *testing.T) error {
				return withDetails(t, codes.FailedPrecondition, "breaking change within v1", &errdetails.PreconditionFailure{
					Violations: []*errdetails.PreconditionFailure_Violation{
						{Type: "field-removed", Subject: "mesh.quality.v1.CleanReading.value", Description: "field 3 is gone"},
						{Subject: "mesh.quality.v1.Unit", Description: "type is gone"},
					},
				})
			},
			want: "failed precondition: breaking change within v1 [mesh.quality.v1.CleanReading.value: field 3 is gone (field-removed); mesh.quality.v1.Unit: type is gone]",
		},
		{
			name: "error info and resource info",
			err: func(t *testing.T) error {
				return withDetails(t, codes.PermissionDenied, "no grant",
					&errdetails.ErrorInfo{Reason: "NO_GRANT", Domain: "catalog.meshwork.dev"},
					&errdetails.ResourceInfo{ResourceType: "product", ResourceName: "identity.users.v1"})
			},
			want: "permission denied: no grant [reason NO_GRANT (catalog.meshwork.dev); product identity.users.v1]",
		},
		{
			name: "multi-line message",
			err:  func(*testing.T) error { return status.Error(codes.Internal, "first line\n  second line") },
			want: "internal: first line second line",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rpcerr.Describe(tt.err(t)); got != tt.want {
				t.Errorf("Describe =\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func TestCodeWords(t *testing.T) {
	t.Parallel()
	tests := map[codes.Code]string{
		codes.OK:                 "ok",
		codes.NotFound:           "not found",
		codes.FailedPrecondition: "failed precondition",
		codes.DeadlineExceeded:   "deadline exceeded",
		codes.Unauthenticated:    "unauthenticated",
	}
	for c, want := range tests {
		if got := rpcerr.CodeWords(c); got != want {
			t.Errorf("CodeWords(%v) = %q, want %q", c, got, want)
		}
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	if rpcerr.Wrap("op", nil) != nil {
		t.Error("Wrap(op, nil) is not nil")
	}
	inner := status.Error(codes.NotFound, "no such product")
	err := rpcerr.Wrap("catalog show x.y.v1", inner)
	if got, want := err.Error(), "catalog show x.y.v1: not found: no such product"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) || status.Code(err) != codes.NotFound {
		t.Errorf("wrapped error hides its status: Is=%v code=%v", errors.Is(err, inner), status.Code(err))
	}
}
