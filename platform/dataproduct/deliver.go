package dataproduct

import (
	"context"
	"fmt"
	"meshwork.dev/platform/dataproduct/rules"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// deliver handles one delivery: decode, run the handler, then ack, nak with backoff or
// dead-letter. It runs on a consume loop's goroutine, one delivery at a time per loop.
//
// Acknowledgements are plain Acks, not double (synchronous) acks: at-least-once holds either
// way, because an ack lost on the wire only means the server redelivers after AckWait and the
// idempotent handler sees the event twice; waiting for the ack's confirmation would cost a
// round trip per event.
func (s *Subscription) deliver(msg jetstream.Msg) {
	if s.ctx.Err() != nil {
		// Stopped: a delivery that raced the stop is left unacknowledged for the server to
		// redeliver after AckWait, to this consumer's other replicas or its next start.
		return
	}
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery: nothing to acknowledge.
		s.cfg.Logger.Error("dataproduct: delivery without metadata", "consumer", s.durable, "subject", msg.Subject(), "error", err)
		return
	}
	ctx := extractTrace(s.ctx, msg.Headers())
	ctx, span := startProcessSpan(ctx, s.tracer, s.span, s.env.id, s.durable)
	defer span.End()

	ev, reason := s.decode(msg, meta)
	if reason != "" {
		spanError(span, fmt.Errorf("malformed event: %s", reason))
		s.deadLetter(msg, meta, "malformed: "+reason)
		return
	}
	recordEventAttrs(span, ev.ID, ev.Subject)
	if vs := s.env.rules.Check(ev.Message, ev.Key); len(vs) > 0 {
		recordViolations(s.ctx, s.js, s.cfg.Logger, s.cfg.ConsumerDomain, s.env.id, SideConsume, ev.ID, ev.Key, vs)
		var failed, reasons []string
		for _, v := range vs {
			if v.Rule.Policy == rules.Count {
				ev.Violations = append(ev.Violations, v)
				continue
			}
			failed = append(failed, v.Rule.ID)
			reasons = append(reasons, v.String())
		}
		if len(failed) > 0 {
			reason := strings.Join(reasons, "; ")
			spanError(span, fmt.Errorf("%s", reason))
			s.deadLetterWith(msg, meta, reason, HeaderDLQRule, strings.Join(failed, ","))
			return
		}
	}
	if meta.NumDelivered > uint64(s.cfg.MaxDeliver) {
		// Earlier deliveries ended without an outcome (a crashed replica, a delivery buffered
		// past AckWait, a failed dead-letter publish): the handler has had its tries.
		reason := fmt.Sprintf("delivered %d times without success (max %d)", meta.NumDelivered, s.cfg.MaxDeliver)
		spanError(span, fmt.Errorf("%s", reason))
		s.deadLetter(msg, meta, reason)
		return
	}

	err = s.run(ctx, msg, ev)
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			s.cfg.Logger.Warn("dataproduct: ack", "consumer", s.durable, "seq", meta.Sequence.Stream, "error", err)
		}
	case IsPermanent(err):
		spanError(span, err)
		s.deadLetter(msg, meta, err.Error())
	case s.ctx.Err() != nil:
		// Stopped while the handler ran: the failure may be the cancellation, so never
		// dead-letter for it; hand the event back.
		spanError(span, err)
		s.nak(msg, meta, s.backoff(meta.NumDelivered))
	case meta.NumDelivered >= uint64(s.cfg.MaxDeliver):
		spanError(span, err)
		s.deadLetter(msg, meta, fmt.Sprintf("handler failed on delivery %d of %d: %v", meta.NumDelivered, s.cfg.MaxDeliver, err))
	default:
		spanError(span, err)
		s.nak(msg, meta, s.backoff(meta.NumDelivered))
	}
}

// decode checks the CloudEvents headers and decodes the payload; a non-empty reason says
// why the message is malformed.
func (s *Subscription) decode(msg jetstream.Msg, meta *jetstream.MsgMetadata) (*Event, string) {
	h := msg.Headers()
	if v := h.Get(HeaderSpecVersion); v != SpecVersion {
		return nil, fmt.Sprintf("%s is %q, want %q", HeaderSpecVersion, v, SpecVersion)
	}
	id := h.Get(HeaderID)
	if id == "" {
		return nil, HeaderID + " is missing"
	}
	typ := h.Get(HeaderType)
	if typ != s.env.typeName {
		return nil, fmt.Sprintf("%s is %q, want %q", HeaderType, typ, s.env.typeName)
	}
	at := meta.Timestamp
	if v := h.Get(HeaderTime); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Sprintf("%s %q is not an RFC 3339 time", HeaderTime, v)
		}
		at = t
	}
	m := s.product.Message.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(msg.Data(), m); err != nil {
		return nil, fmt.Sprintf("payload does not decode as %s: %v", s.env.typeName, err)
	}
	subject := msg.Subject()
	return &Event{
		ID:           id,
		Key:          strings.TrimPrefix(subject, s.env.prefix),
		Type:         typ,
		Source:       h.Get(HeaderSource),
		Time:         at,
		Subject:      subject,
		Sequence:     meta.Sequence.Stream,
		NumDelivered: meta.NumDelivered,
		Headers:      h,
		Data:         msg.Data(),
		Message:      m,
	}, ""
}

// run calls the handler, turning a panic into an error. While the handler runs the server is
// told every half AckWait that the delivery is in progress, so a slow handler is not raced by a
// redelivery; only a delivery whose process is gone comes back after AckWait.
func (s *Subscription) run(ctx context.Context, msg jetstream.Msg, ev *Event) (err error) {
	defer s.keepAlive(msg)()
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Logger.Error("dataproduct: handler panicked", "consumer", s.durable, "event", ev.ID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return s.handler(ctx, ev)
}

// keepAlive sends msg's in-progress acknowledgement every half AckWait until the returned
// stop is called; none is sent after stop returns.
func (s *Subscription) keepAlive(msg jetstream.Msg) (stop func()) {
	every := s.cfg.AckWait / 2
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	timer = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := msg.InProgress(); err != nil {
			s.cfg.Logger.Warn("dataproduct: in-progress ack", "consumer", s.durable, "subject", msg.Subject(), "error", err)
		}
		timer.Reset(every)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}

// backoff is the redelivery delay after the handler failed on delivery n (n ≥ 1).
func (s *Subscription) backoff(n uint64) time.Duration {
	i := min(int(n), len(s.cfg.Backoff)) - 1
	return s.cfg.Backoff[max(i, 0)]
}

// nak asks for redelivery after delay (0: at once), logging a failed request: the server
// redelivers after AckWait anyway.
func (s *Subscription) nak(msg jetstream.Msg, meta *jetstream.MsgMetadata, delay time.Duration) {
	var err error
	if delay > 0 {
		err = msg.NakWithDelay(delay)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		s.cfg.Logger.Warn("dataproduct: nak", "consumer", s.durable, "seq", meta.Sequence.Stream, "error", err)
	}
}
