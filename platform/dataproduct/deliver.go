package dataproduct

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"meshwork.dev/platform/dataproduct/rules"
	"meshwork.dev/platform/errs"
)

// streamSourceHeader is where the server records a sourced message's origin: "<stream> <seq> …".
const streamSourceHeader = "Nats-Stream-Source"

// BatchHandler processes the events of one fetch together, in order (a batch receiver's
// DeliverBatch). Returning nil acknowledges them all. On an error the receiver delivers each
// event again on its own, through the same handler with a one-event slice, and settles it as
// Deliver does — so one bad event (an error wrapped with Permanent) is dead-lettered alone and
// the others go through. Like a Handler it must be idempotent on Event.ID.
type BatchHandler func(ctx context.Context, evs []*Event) error

// Receiver is the delivery half of a Subscription, for consumers that fetch their own messages
// (package partition fetches one partition of a work-queue stream at a time). Deliver and
// DeliverBatch decode and check each message, run the handler with the delivery kept in
// progress, and settle it with Subscribe's outcomes (doc.go): ack, nak after Backoff, dead-letter
// on Permanent, malformed events, rule failures and MaxDeliver; rule violations are recorded on
// the consume side and each delivery has a consumer span.
//
// A message may come from the product's stream or from a stream sourcing it through a subject
// transform whose last token is still the key (the server adds a Nats-Stream-Source header):
// the Event's Subject, Key and Sequence, and the dead-letter copy's dlq-subject, dlq-stream,
// dlq-sequence and Nats-Msg-Id, then name the product stream's event, as Subscribe would.
type Receiver struct {
	js      jetstream.JetStream
	product Product
	cfg     ConsumerConfig
	handler Handler
	batch   BatchHandler // nil: DeliverBatch delivers one event at a time
	env     *envelope
	durable string
	dlq     string
	span    string
	tracer  trace.Tracer
}

// NewReceiver returns the receiver of p's events for cfg.ConsumerDomain, calling h once per
// event. Of cfg only ConsumerDomain, MaxDeliver, Backoff, AckWait and Logger apply (with
// their defaults); the caller's consumer must have explicit acks and an unlimited server-side
// MaxDeliver (the receiver enforces cfg.MaxDeliver).
func NewReceiver(js jetstream.JetStream, p Product, cfg ConsumerConfig, h Handler) (*Receiver, error) {
	const op = "dataproduct.NewReceiver"
	if h == nil {
		return nil, errs.BadRequest(op, errs.Violation{Field: "handler", Description: "is required"})
	}
	return newReceiver(op, js, p, cfg, h, nil)
}

// NewBatchReceiver is NewReceiver for a handler of whole batches (DeliverBatch).
func NewBatchReceiver(js jetstream.JetStream, p Product, cfg ConsumerConfig, h BatchHandler) (*Receiver, error) {
	const op = "dataproduct.NewBatchReceiver"
	if h == nil {
		return nil, errs.BadRequest(op, errs.Violation{Field: "handler", Description: "is required"})
	}
	one := func(ctx context.Context, ev *Event) error { return h(ctx, []*Event{ev}) }
	return newReceiver(op, js, p, cfg, one, h)
}

func newReceiver(op string, js jetstream.JetStream, p Product, cfg ConsumerConfig, h Handler, b BatchHandler) (*Receiver, error) {
	if err := p.Validate(); err != nil {
		return nil, errs.Wrap(op, err)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, errs.Wrap(op, err)
	}
	env, err := newEnvelope(p)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &Receiver{
		js: js, product: p, cfg: cfg, handler: h, batch: b, env: env,
		durable: p.DurableName(cfg.ConsumerDomain), dlq: p.DeadLetterSubject(cfg.ConsumerDomain),
		span: "process " + p.ID(), tracer: newTracer(),
	}, nil
}

// Deliver handles one delivery: decode, run the handler, then ack, nak with backoff or
// dead-letter. ctx is the handler's parent; once it is cancelled the receiver stops: a
// delivery arriving then is left unacknowledged for the server to redeliver after AckWait,
// and a handler failing then is handed back, never dead-lettered for that failure.
//
// Acknowledgements are plain Acks, not double (synchronous) acks: at-least-once holds either
// way, because an ack lost on the wire only means the server redelivers after AckWait and the
// idempotent handler sees the event twice; waiting for the ack's confirmation would cost a
// round trip per event.
func (r *Receiver) Deliver(ctx context.Context, msg jetstream.Msg) {
	if ctx.Err() != nil {
		return
	}
	meta, ok := r.metadata(msg)
	if !ok {
		return
	}
	ctx = extractTrace(ctx, msg.Headers())
	ctx, span := startProcessSpan(ctx, r.tracer, r.span, r.env.id, r.durable)
	defer span.End()
	ev, ok := r.admit(ctx, span, msg, meta)
	if !ok {
		return
	}
	recordEventAttrs(span, ev.ID, ev.Subject)
	err := r.run(ctx, ev, func(ctx context.Context) error { return r.handler(ctx, ev) }, msg)
	r.settle(ctx, span, msg, meta, ev, err)
}

// DeliverBatch handles the deliveries of one fetch, in order: malformed events, rule
// failures and events past MaxDeliver are dead-lettered one by one, the rest go to the batch
// handler together and are acknowledged together. A failed batch is tried again in place after
// Backoff, its events kept in progress so nothing overtakes them, up to MaxDeliver tries in
// all; after a Permanent error or the last try its events are delivered one at a time
// (BatchHandler). If ctx ends first they are handed back at once. A receiver made by
// NewReceiver delivers them one at a time.
func (r *Receiver) DeliverBatch(ctx context.Context, msgs []jetstream.Msg) {
	if r.batch == nil {
		for _, msg := range msgs {
			r.Deliver(ctx, msg)
		}
		return
	}
	if ctx.Err() != nil {
		return
	}
	ctx, span := startProcessSpan(ctx, r.tracer, r.span, r.env.id, r.durable)
	defer span.End()
	type admitted struct {
		msg  jetstream.Msg
		meta *jetstream.MsgMetadata
		ev   *Event
	}
	in := make([]admitted, 0, len(msgs))
	evs := make([]*Event, 0, len(msgs))
	held := make([]jetstream.Msg, 0, len(msgs))
	for _, msg := range msgs {
		meta, ok := r.metadata(msg)
		if !ok {
			continue
		}
		if ev, ok := r.admit(ctx, span, msg, meta); ok {
			in = append(in, admitted{msg, meta, ev})
			evs = append(evs, ev)
			held = append(held, msg)
		}
	}
	if len(in) == 0 {
		return
	}
	batch := func(ctx context.Context) error { return r.batch(ctx, evs) }
	err := r.run(ctx, evs[0], batch, held...)
	// A failure that may pass (not Permanent) is retried in place, the events kept in
	// progress, so that nothing after them overtakes them: per-key order holds.
	for attempt := 1; err != nil && !IsPermanent(err) && ctx.Err() == nil && attempt < r.cfg.MaxDeliver; attempt++ {
		d := r.backoff(uint64(attempt))
		r.cfg.Logger.Warn("dataproduct: batch failed, retrying it in place", "consumer", r.durable, "n", len(in), "attempt", attempt, "after", d, "error", err)
		if !r.pause(ctx, held, d) {
			break
		}
		err = r.run(ctx, evs[0], batch, held...)
	}
	if err == nil {
		for _, a := range in {
			r.ack(a.msg, a.meta)
		}
		return
	}
	if ctx.Err() != nil {
		spanError(span, err)
		for _, a := range in {
			r.nak(a.msg, a.meta, 0)
		}
		return
	}
	r.cfg.Logger.Debug("dataproduct: batch failed, delivering its events one at a time", "consumer", r.durable, "n", len(in), "error", err)
	for _, a := range in {
		err := r.run(ctx, a.ev, func(ctx context.Context) error { return r.handler(ctx, a.ev) }, a.msg)
		r.settle(ctx, span, a.msg, a.meta, a.ev, err)
	}
}

// metadata returns msg's JetStream metadata; a message without is logged and dropped
// (nothing to acknowledge).
func (r *Receiver) metadata(msg jetstream.Msg) (*jetstream.MsgMetadata, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		r.cfg.Logger.Error("dataproduct: delivery without metadata", "consumer", r.durable, "subject", msg.Subject(), "error", err)
		return nil, false
	}
	return meta, true
}

// admit decodes msg and checks the product's rules and MaxDeliver; a message that must not
// reach the handler is dead-lettered and admit returns false.
func (r *Receiver) admit(ctx context.Context, span trace.Span, msg jetstream.Msg, meta *jetstream.MsgMetadata) (*Event, bool) {
	ev, reason := r.decode(msg, meta)
	if reason != "" {
		spanError(span, fmt.Errorf("malformed event: %s", reason))
		r.deadLetter(msg, meta, "malformed: "+reason)
		return nil, false
	}
	if vs := r.env.rules.Check(ev.Message, ev.Key); len(vs) > 0 {
		recordViolations(ctx, r.js, r.cfg.Logger, r.cfg.ConsumerDomain, r.env.id, SideConsume, ev.ID, ev.Key, vs)
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
			r.deadLetter(msg, meta, reason, HeaderDLQRule, strings.Join(failed, ","))
			return nil, false
		}
	}
	if meta.NumDelivered > uint64(r.cfg.MaxDeliver) {
		// Earlier deliveries ended without an outcome (a crashed replica, a delivery buffered
		// past AckWait, a failed dead-letter publish): the handler has had its tries.
		reason := fmt.Sprintf("delivered %d times without success (max %d)", meta.NumDelivered, r.cfg.MaxDeliver)
		spanError(span, fmt.Errorf("%s", reason))
		r.deadLetter(msg, meta, reason)
		return nil, false
	}
	return ev, true
}

// settle ends a delivery after its handler returned err.
func (r *Receiver) settle(ctx context.Context, span trace.Span, msg jetstream.Msg, meta *jetstream.MsgMetadata, ev *Event, err error) {
	switch {
	case err == nil:
		r.ack(msg, meta)
		return
	case IsPermanent(err):
		r.deadLetter(msg, meta, err.Error())
	case ctx.Err() != nil:
		// Stopped while the handler ran: the failure may be the cancellation, so never
		// dead-letter for it; hand the event back at once, so that it comes before the
		// events after it.
		r.nak(msg, meta, 0)
	case meta.NumDelivered >= uint64(r.cfg.MaxDeliver):
		r.deadLetter(msg, meta, fmt.Sprintf("handler failed on delivery %d of %d: %v", meta.NumDelivered, r.cfg.MaxDeliver, err))
	default:
		r.nak(msg, meta, r.backoff(meta.NumDelivered))
	}
	spanError(span, err)
}

func (r *Receiver) ack(msg jetstream.Msg, meta *jetstream.MsgMetadata) {
	if err := msg.Ack(); err != nil {
		r.cfg.Logger.Warn("dataproduct: ack", "consumer", r.durable, "seq", meta.Sequence.Stream, "error", err)
	}
}

// origin is where msg's event stands in the product's stream: its subject, key and sequence.
// A message sourced into another stream (Nats-Stream-Source) keeps the key as its last token.
func (r *Receiver) origin(msg jetstream.Msg, meta *jetstream.MsgMetadata) (subject, key string, seq uint64, sourced bool) {
	subject = msg.Subject()
	src := msg.Headers().Get(streamSourceHeader)
	if strings.HasPrefix(subject, r.env.prefix) || src == "" {
		return subject, strings.TrimPrefix(subject, r.env.prefix), meta.Sequence.Stream, false
	}
	key = subject[strings.LastIndexByte(subject, '.')+1:]
	if f := strings.Fields(src); len(f) >= 2 {
		seq, _ = strconv.ParseUint(f[1], 10, 64)
	}
	return r.env.prefix + key, key, seq, true
}

// decode checks the CloudEvents headers and decodes the payload; a non-empty reason says
// why the message is malformed. The event is returned either way, as far as it was read, for
// the dead-letter copy.
func (r *Receiver) decode(msg jetstream.Msg, meta *jetstream.MsgMetadata) (*Event, string) {
	h := msg.Headers()
	subject, key, seq, _ := r.origin(msg, meta)
	ev := &Event{Key: key, Subject: subject, Sequence: seq, NumDelivered: meta.NumDelivered,
		Headers: h, Data: msg.Data(), Time: meta.Timestamp}
	if v := h.Get(HeaderSpecVersion); v != SpecVersion {
		return ev, fmt.Sprintf("%s is %q, want %q", HeaderSpecVersion, v, SpecVersion)
	}
	if ev.ID = h.Get(HeaderID); ev.ID == "" {
		return ev, HeaderID + " is missing"
	}
	if ev.Type = h.Get(HeaderType); ev.Type != r.env.typeName {
		return ev, fmt.Sprintf("%s is %q, want %q", HeaderType, ev.Type, r.env.typeName)
	}
	if v := h.Get(HeaderTime); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return ev, fmt.Sprintf("%s %q is not an RFC 3339 time", HeaderTime, v)
		}
		ev.Time = t
	}
	ev.Source = h.Get(HeaderSource)
	m := r.product.Message.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(msg.Data(), m); err != nil {
		return ev, fmt.Sprintf("payload does not decode as %s: %v", r.env.typeName, err)
	}
	ev.Message = m
	return ev, ""
}

// run calls f, turning a panic into an error. While it runs the server is told every half
// AckWait that msgs are in progress, so a slow handler is not raced by a redelivery; only a
// delivery whose process is gone comes back after AckWait.
func (r *Receiver) run(ctx context.Context, ev *Event, f func(context.Context) error, msgs ...jetstream.Msg) (err error) {
	defer r.keepAlive(msgs)()
	defer func() {
		if p := recover(); p != nil {
			r.cfg.Logger.Error("dataproduct: handler panicked", "consumer", r.durable, "event", ev.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return f(ctx)
}

// keepAlive sends msgs' in-progress acknowledgements every half AckWait until the returned
// stop is called; none is sent after stop returns.
func (r *Receiver) keepAlive(msgs []jetstream.Msg) (stop func()) {
	every := r.cfg.AckWait / 2
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
		for _, msg := range msgs {
			if err := msg.InProgress(); err != nil {
				r.cfg.Logger.Warn("dataproduct: in-progress ack", "consumer", r.durable, "subject", msg.Subject(), "error", err)
			}
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

// pause waits d before a batch is tried again, keeping msgs in progress; false if ctx ended.
func (r *Receiver) pause(ctx context.Context, msgs []jetstream.Msg, d time.Duration) bool {
	for _, msg := range msgs {
		_ = msg.InProgress()
	}
	defer r.keepAlive(msgs)()
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// backoff is the redelivery delay after the handler failed on delivery n (n ≥ 1).
func (r *Receiver) backoff(n uint64) time.Duration {
	i := min(int(n), len(r.cfg.Backoff)) - 1
	return r.cfg.Backoff[max(i, 0)]
}

// nak asks for redelivery after delay (0: at once), logging a failed request: the server
// redelivers after AckWait anyway.
func (r *Receiver) nak(msg jetstream.Msg, meta *jetstream.MsgMetadata, delay time.Duration) {
	var err error
	if delay > 0 {
		err = msg.NakWithDelay(delay)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		r.cfg.Logger.Warn("dataproduct: nak", "consumer", r.durable, "seq", meta.Sequence.Stream, "error", err)
	}
}
