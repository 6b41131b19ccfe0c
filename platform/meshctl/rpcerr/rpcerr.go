// Package rpcerr renders gRPC status errors for people: the code in words, the server's
// message and the details that say what to fix (google.rpc.BadRequest field violations,
// google.rpc.PreconditionFailure violations, ErrorInfo and ResourceInfo), all on one line,
// as meshctl prints them.
package rpcerr

import (
	"errors"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Describe renders err on one line. An error carrying a gRPC status (directly or wrapped)
// becomes "<code in words>: <message> [<detail>; <detail>]"; any other error is its Error()
// text. Newlines in messages are folded into spaces so the result stays one line.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	st, ok := fromError(err)
	if !ok {
		return oneLine(err.Error())
	}
	var b strings.Builder
	b.WriteString(CodeWords(st.Code()))
	if msg := st.Message(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if details := Details(st); len(details) > 0 {
		b.WriteString(" [")
		b.WriteString(strings.Join(details, "; "))
		b.WriteString("]")
	}
	return oneLine(b.String())
}

// fromError finds a status along err's chain. status.FromError already unwraps, but it
// returns a status for every error; only real statuses count here.
func fromError(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	st := se.GRPCStatus()
	return st, st != nil
}

// Details renders the status details people can act on, one string each, in the order the
// server sent them. Unknown detail types are left out.
func Details(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				out = append(out, joinNonEmpty(": ", v.GetField(), v.GetDescription()))
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				s := joinNonEmpty(": ", v.GetSubject(), v.GetDescription())
				if t := v.GetType(); t != "" {
					s += " (" + t + ")"
				}
				out = append(out, s)
			}
		case *errdetails.ErrorInfo:
			out = append(out, joinNonEmpty(" ", "reason "+d.GetReason(), domain(d.GetDomain())))
		case *errdetails.ResourceInfo:
			out = append(out, joinNonEmpty(" ", d.GetResourceType(), d.GetResourceName(), d.GetDescription()))
		}
	}
	return out
}

// domain renders an ErrorInfo domain, or nothing.
func domain(d string) string {
	if d == "" {
		return ""
	}
	return "(" + d + ")"
}

// CodeWords spells a status code in lower-case words: codes.FailedPrecondition is
// "failed precondition", codes.NotFound "not found".
func CodeWords(c codes.Code) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range c.String() {
		if unicode.IsUpper(r) && unicode.IsLower(prev) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
		prev = r
	}
	return b.String()
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// oneLine folds line breaks and the blanks around them into single spaces.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// Wrap returns err with op in front, rendered by Describe: its Error() is
// "<op>: <Describe(err)>" and errors.Is, errors.As and status.FromError still see err.
// Wrap(op, nil) is nil.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &wrapped{op: op, err: err}
}

// wrapped is an error rendered by Describe behind an op.
type wrapped struct {
	op  string
	err error
}

// Error is "<op>: <Describe(err)>".
func (w *wrapped) Error() string { return w.op + ": " + Describe(w.err) }

// Unwrap returns the wrapped error.
func (w *wrapped) Unwrap() error { return w.err }
