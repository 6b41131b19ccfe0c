package dataproduct

import (
	"meshwork.dev/platform/dataproduct/rules"

	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"meshwork.dev/platform/errs"
)

// Event is one delivery of a product's event to a consumer.
type Event struct {
	// ID is the event id (ce-id), the consumer's de-duplication key: a redelivered or
	// republished event keeps its id.
	ID string
	// Key is the subject key (e.g. the machine id).
	Key string
	// Type is the full protobuf message name (ce-type).
	Type string
	// Source is the producing domain, /domains/<domain> (ce-source).
	Source string
	// Time is when the event happened (ce-time), or when the stream stored it if the
	// producer sent no ce-time.
	Time time.Time
	// Subject is the NATS subject the event was published on.
	Subject string
	// Sequence is the event's sequence in the product's stream.
	Sequence uint64
	// NumDelivered counts deliveries to this consumer, 1 on the first.
	NumDelivered uint64
	// Headers are the message headers as received; treat them as read-only.
	Headers nats.Header
	// Data is the encoded payload.
	Data []byte
	// Message is Data decoded into a new instance of the product's message type.
	Message proto.Message
	// Violations are the product's count-policy rules the event fails (an event failing a
	// reject or dead-letter rule is dead-lettered and never reaches the handler).
	Violations []rules.Violation
}

// Handler processes one event. Returning nil acknowledges it; an error asks for redelivery
// after the consumer's backoff, until MaxDeliver is reached and the event is dead-lettered;
// an error wrapped with Permanent dead-letters it at once. Handlers must be idempotent:
// delivery is at least once.
type Handler func(ctx context.Context, ev *Event) error

// Handle adapts a handler of the payload type T to a Handler. T must be the product's
// message type; a mismatch is a permanent error (the event is dead-lettered).
func Handle[T proto.Message](f func(ctx context.Context, ev *Event, msg T) error) Handler {
	return func(ctx context.Context, ev *Event) error {
		msg, err := Decode[T](ev)
		if err != nil {
			return Permanent(err)
		}
		return f(ctx, ev, msg)
	}
}

// Decode returns ev's message as T, or an errs.Invalid error if the product's message type
// is not T.
func Decode[T proto.Message](ev *Event) (T, error) {
	msg, ok := ev.Message.(T)
	if !ok {
		var zero T
		return zero, errs.Errorf("dataproduct.Decode", errs.Invalid, "event %s carries %s, not %T", ev.ID, ev.Type, zero)
	}
	return msg, nil
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return "permanent: " + p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that redelivery cannot fix: a Handler returning it (wrapped or
// not) has its event dead-lettered at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
