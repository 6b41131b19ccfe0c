package errs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"meshwork.dev/platform/errs"
)

func TestKindOfAndMessage(t *testing.T) {
	t.Parallel()
	notFound := errs.E("store.Machine", errs.NotFound, "machine m-17")
	tests := []struct {
		name    string
		err     error
		kind    errs.Kind
		text    string
		message string
	}{
		{"nil", nil, 0, "", "unspecified"},
		{"plain error is internal", io.EOF, errs.Internal, "EOF", "internal error"},
		{"E", notFound, errs.NotFound, "store.Machine: machine m-17", "machine m-17"},
		{"Wrap keeps the kind", errs.Wrap("rpc.GetMachine", notFound), errs.NotFound,
			"rpc.GetMachine: store.Machine: machine m-17", "machine m-17"},
		{"fmt %w keeps the kind", fmt.Errorf("handler: %w", notFound), errs.NotFound,
			"handler: store.Machine: machine m-17", "machine m-17"},
		{"outer kind wins", &errs.Error{Op: "relay", Kind: errs.Unavailable, Err: notFound}, errs.Unavailable,
			"relay: store.Machine: machine m-17", "machine m-17"},
		{"classified foreign error", &errs.Error{Op: "nats.Publish", Kind: errs.Unavailable, Err: io.ErrClosedPipe},
			errs.Unavailable, "nats.Publish: io: read/write on closed pipe", "unavailable"},
		{"wrapped plain error stays internal", errs.Wrap("op", io.EOF), errs.Internal, "op: EOF", "internal error"},
		{"internal message never leaks", errs.E("op", errs.Internal, "pool exhausted at 10.0.0.3"),
			errs.Internal, "op: pool exhausted at 10.0.0.3", "internal error"},
		{"kind only", &errs.Error{Op: "op", Kind: errs.Conflict}, errs.Conflict, "op: conflict", "conflict"},
		{"Errorf", errs.Errorf("op", errs.FailedPrecondition, "job %s is closed", "j1"), errs.FailedPrecondition,
			"op: job j1 is closed", "job j1 is closed"},
		{"Errorf with %w", errs.Errorf("op", errs.Unavailable, "dial: %w", io.EOF), errs.Unavailable,
			"op: dial: EOF", "unavailable"},
		{"BadRequest", errs.BadRequest("rpc.Plan", errs.Violation{Field: "stops", Description: "at least 2"},
			errs.Violation{Field: "depot", Description: "required"}), errs.Invalid,
			"rpc.Plan: invalid argument: stops: at least 2; depot: required", "invalid argument"},
		{"empty Error", &errs.Error{}, errs.Internal, "", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := errs.KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf = %v, want %v", got, tt.kind)
			}
			if tt.err != nil && tt.err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.text)
			}
			if got := errs.Message(tt.err); got != tt.message {
				t.Errorf("Message = %q, want %q", got, tt.message)
			}
			if tt.kind != 0 && !errs.Is(tt.err, tt.kind) {
				t.Errorf("Is(err, %v) = false", tt.kind)
			}
		})
	}
}

func TestStandardLibraryInterop(t *testing.T) {
	t.Parallel()
	err := errs.Wrap("outer", &errs.Error{Op: "inner", Kind: errs.Unavailable, Err: context.DeadlineExceeded})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("errors.Is does not see the cause")
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Op != "outer" {
		t.Errorf("errors.As found %+v, want the outer *Error", e)
	}
	if errs.Is(err, errs.NotFound) {
		t.Error("Is matched the wrong kind")
	}
	if errs.Wrap("op", nil) != nil {
		t.Error("Wrap(op, nil) is not nil")
	}
}

func TestViolations(t *testing.T) {
	t.Parallel()
	v1 := errs.Violation{Field: "a", Description: "x"}
	v2 := errs.Violation{Field: "b", Description: "y"}
	err := fmt.Errorf("rpc: %w", &errs.Error{Op: "o", Violations: []errs.Violation{v1}, Err: errs.BadRequest("p", v2)})
	if got, want := errs.Violations(err), []errs.Violation{v1, v2}; !reflect.DeepEqual(got, want) {
		t.Errorf("Violations = %v, want %v", got, want)
	}
	if got := errs.Violations(io.EOF); got != nil {
		t.Errorf("Violations(plain) = %v, want nil", got)
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[errs.Kind]string{errs.Forbidden: "permission denied", errs.Kind(200): "kind(200)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}
