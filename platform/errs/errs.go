// Package errs gives Meshwork errors a kind, so the code that meets an error can say what went
// wrong in terms a caller understands (invalid, not found, conflict …) while the gRPC edge alone
// decides how each kind is reported.
//
// An *Error carries an op (the operation that failed, e.g. "postgres.Store.Machine"), a Kind, a
// message meant for the caller, optional field violations, and the underlying cause. Errors wrap
// with %w semantics: errors.Is and errors.As see through an *Error to its cause.
//
//	return errs.E(op, errs.NotFound, "machine m-17")                 // a new error of a kind
//	return errs.Wrap(op, err)                                        // add context, keep the kind
//	return &errs.Error{Op: op, Kind: errs.Unavailable, Err: err}     // classify a foreign error
//	return errs.BadRequest(op, errs.Violation{Field: "page_size", Description: "must be at most 1000"})
//
// KindOf reports the kind of any error; an error that nobody classified is Internal.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what the caller can do about it. The zero Kind means "not set":
// an *Error without a kind takes the kind of the error it wraps.
type Kind uint8

// The kinds. Each maps to one gRPC status code at the edge.
const (
	// Invalid: the request is malformed or breaks a rule about its fields (InvalidArgument).
	Invalid Kind = iota + 1
	// NotFound: the thing asked for does not exist (NotFound).
	NotFound
	// Conflict: the thing to create already exists, or a concurrent change won (AlreadyExists).
	Conflict
	// FailedPrecondition: the system is not in a state that allows the operation (FailedPrecondition).
	FailedPrecondition
	// Forbidden: the caller is known but not allowed to do this (PermissionDenied).
	Forbidden
	// Unauthenticated: the caller did not prove who they are (Unauthenticated).
	Unauthenticated
	// ResourceExhausted: a quota or rate limit was hit (ResourceExhausted).
	ResourceExhausted
	// Unavailable: a dependency is down or overloaded; retrying later may work (Unavailable).
	Unavailable
	// Internal: a bug or an unexpected failure; never used for a caller's mistake (Internal).
	Internal
)

var kindNames = [...]string{
	0:                  "unspecified",
	Invalid:            "invalid argument",
	NotFound:           "not found",
	Conflict:           "conflict",
	FailedPrecondition: "failed precondition",
	Forbidden:          "permission denied",
	Unauthenticated:    "unauthenticated",
	ResourceExhausted:  "resource exhausted",
	Unavailable:        "unavailable",
	Internal:           "internal error",
}

// String returns the kind in words, e.g. "not found".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Violation is one problem with one field of a request.
type Violation struct {
	// Field is the path to the field, e.g. "stops[2].cell".
	Field string
	// Description says what is wrong, e.g. "must be a valid H3 cell".
	Description string
}

// Error is an error with a kind. All fields are optional; Error() reads "op: msg: cause".
type Error struct {
	// Op is the operation that failed, conventionally "package.Type.Method".
	Op string
	// Kind classifies the error; zero means the kind of Err.
	Kind Kind
	// Msg is a message fit for the caller (it reaches clients for every kind but Internal).
	Msg string
	// Violations lists field problems; meaningful with Kind Invalid.
	Violations []Violation
	// Err is the cause, if any.
	Err error
}

// Error returns "op: msg: cause", leaving out empty parts. With neither message nor cause it
// names the kind and any violations instead.
func (e *Error) Error() string {
	var b strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	add(e.Op)
	add(e.Msg)
	if e.Msg == "" && e.Err == nil && e.Kind != 0 {
		add(e.Kind.String())
	}
	if len(e.Violations) > 0 {
		parts := make([]string, len(e.Violations))
		for i, v := range e.Violations {
			parts[i] = v.Field + ": " + v.Description
		}
		add(strings.Join(parts, "; "))
	}
	if e.Err != nil {
		add(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is and errors.As see through e.
func (e *Error) Unwrap() error { return e.Err }

// E returns a new error of kind k with a message for the caller.
func E(op string, k Kind, msg string) error {
	return &Error{Op: op, Kind: k, Msg: msg}
}

// Errorf is E with a formatted message. A %w verb wraps its argument as the cause.
func Errorf(op string, k Kind, format string, args ...any) error {
	cause := fmt.Errorf(format, args...)
	e := &Error{Op: op, Kind: k, Msg: cause.Error()}
	if errors.Unwrap(cause) != nil {
		e.Msg, e.Err = "", cause
	}
	return e
}

// BadRequest returns an Invalid error listing what is wrong with which fields.
func BadRequest(op string, violations ...Violation) error {
	return &Error{Op: op, Kind: Invalid, Violations: violations}
}

// Wrap adds op to err, keeping err's kind, message and violations visible through it.
// Wrap(op, nil) is nil.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Err: err}
}

// KindOf returns the kind of err: the first kind set along its chain of *Error values, or
// Internal when there is none. KindOf(nil) is 0.
func KindOf(err error) Kind {
	if err == nil {
		return 0
	}
	for {
		var e *Error
		if !errors.As(err, &e) {
			return Internal
		}
		if e.Kind != 0 {
			return e.Kind
		}
		if e.Err == nil {
			return Internal
		}
		err = e.Err
	}
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool {
	return err != nil && KindOf(err) == k
}

// Message returns the message for the caller: the first Msg along err's chain of *Error values,
// or the kind in words when there is none. For Internal errors it is always "internal error",
// so nothing about the failure leaks to clients.
func Message(err error) string {
	k := KindOf(err)
	if k == Internal || err == nil {
		return k.String()
	}
	for e := err; ; {
		var ee *Error
		if !errors.As(e, &ee) {
			return k.String()
		}
		if ee.Msg != "" {
			return ee.Msg
		}
		if ee.Err == nil {
			return k.String()
		}
		e = ee.Err
	}
}

// Violations returns the field violations along err's chain of *Error values, outermost first.
func Violations(err error) []Violation {
	var out []Violation
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		out = append(out, e.Violations...)
		err = e.Err
	}
	return out
}
