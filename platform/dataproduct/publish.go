package dataproduct

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"meshwork.dev/platform/errs"
)

// DefaultMaxPending is the default bound on asynchronous publishes awaiting their ack.
const DefaultMaxPending = 4096

// maxKeptErrors bounds the asynchronous failures a Publisher keeps for Flush to report.
const maxKeptErrors = 8

// PublisherOption configures NewPublisher.
type PublisherOption func(*publisherOptions)

type publisherOptions struct {
	maxPending int
	ackTimeout time.Duration
	onError    func(*nats.Msg, error)
}

// WithMaxPending bounds the asynchronous publishes in flight (default DefaultMaxPending).
// PublishAsync blocks, up to its ctx, while the bound is reached.
func WithMaxPending(n int) PublisherOption {
	return func(o *publisherOptions) { o.maxPending = n }
}

// WithAckTimeout fails an asynchronous publish whose ack has not arrived after d. By default
// there is no per-message timer (it costs a timer per event); a lost connection still fails
// every outstanding publish, and Flush's ctx bounds the wait.
func WithAckTimeout(d time.Duration) PublisherOption {
	return func(o *publisherOptions) { o.ackTimeout = d }
}

// WithErrorHandler is called, on the NATS client's goroutine, with every asynchronous publish
// that fails; it must not block, and msg is valid only during the call (its header map is
// reused afterwards). Failures are reported by Flush and Close whether or not a handler is
// set.
func WithErrorHandler(f func(msg *nats.Msg, err error)) PublisherOption {
	return func(o *publisherOptions) { o.onError = f }
}

// Publisher publishes one product's events. It is safe for concurrent use. Asynchronous
// publishes go through a JetStream context of the Publisher's own (on the caller's
// connection), so their in-flight bound and their failures are this Publisher's alone.
type Publisher struct {
	js       jetstream.JetStream
	async    jetstream.JetStream
	env      *envelope
	id       string
	domain   string
	spanName string
	tracer   trace.Tracer
	onError  func(*nats.Msg, error)
	closed   atomic.Bool

	headers sync.Pool // of nats.Header, see header

	mu     sync.Mutex
	failed int
	kept   []error
}

// NewPublisher returns a Publisher of p's events over js. It validates p but does not
// provision the stream (see Provision).
func NewPublisher(js jetstream.JetStream, p Product, opts ...PublisherOption) (*Publisher, error) {
	const op = "dataproduct.NewPublisher"
	o := publisherOptions{maxPending: DefaultMaxPending}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxPending < 1 {
		return nil, errs.BadRequest(op, errs.Violation{Field: "MaxPending", Description: "must be at least 1"})
	}
	env, err := newEnvelope(p)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	pub := &Publisher{js: js, env: env, id: p.ID(), domain: p.Domain, spanName: "send " + p.ID(), tracer: newTracer(), onError: o.onError}
	jsOpts := []jetstream.JetStreamOpt{
		jetstream.WithPublishAsyncMaxPending(o.maxPending),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) { pub.asyncFailed(m, err) }),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { pub.recycle(m) }),
	}
	if o.ackTimeout > 0 {
		jsOpts = append(jsOpts, jetstream.WithPublishAsyncTimeout(o.ackTimeout))
	}
	var async jetstream.JetStream
	switch jo := js.Options(); {
	case jo.Domain != "":
		async, err = jetstream.NewWithDomain(js.Conn(), jo.Domain, jsOpts...)
	case jo.APIPrefix != "":
		async, err = jetstream.NewWithAPIPrefix(js.Conn(), jo.APIPrefix, jsOpts...)
	default:
		async, err = jetstream.New(js.Conn(), jsOpts...)
	}
	if err != nil {
		return nil, errs.Errorf(op, errs.Internal, "async JetStream context: %w", err)
	}
	pub.async = async
	return pub, nil
}

// Publish sends msg as an event on key and waits for the stream's ack. A duplicate event id
// within the duplicate window is acknowledged with PubAck.Duplicate set and stored once.
func (p *Publisher) Publish(ctx context.Context, key string, msg proto.Message, opts ...PublishOption) (*jetstream.PubAck, error) {
	const op = "dataproduct.Publisher.Publish"
	if p.closed.Load() {
		return nil, errs.E(op, errs.FailedPrecondition, "publisher is closed")
	}
	ctx, span := startPublishSpan(ctx, p.tracer, p.spanName, p.id)
	defer span.End()
	m, err := p.prepare(ctx, op, key, msg, opts)
	if err != nil {
		return nil, spanError(span, err)
	}
	recordEventAttrs(span, m.Header.Get(HeaderID), m.Subject)
	ack, err := p.js.PublishMsg(ctx, m)
	subject := m.Subject
	p.recycle(m)
	if err != nil {
		return nil, spanError(span, NATSError(op, "publish to "+subject, err))
	}
	return ack, nil
}

// PublishAsync sends msg as an event on key without waiting for the ack. It blocks, up to
// ctx, only while the in-flight bound is reached. A failure arrives later: it is passed to
// the error handler and reported by the next Flush or Close, so no failed event goes
// unnoticed.
func (p *Publisher) PublishAsync(ctx context.Context, key string, msg proto.Message, opts ...PublishOption) error {
	const op = "dataproduct.Publisher.PublishAsync"
	if p.closed.Load() {
		return errs.E(op, errs.FailedPrecondition, "publisher is closed")
	}
	ctx, span := startPublishSpan(ctx, p.tracer, p.spanName, p.id)
	defer span.End()
	m, err := p.prepare(ctx, op, key, msg, opts)
	if err != nil {
		return spanError(span, err)
	}
	recordEventAttrs(span, m.Header.Get(HeaderID), m.Subject)
	for {
		_, err := p.async.PublishMsgAsync(m)
		if err == nil {
			// m now belongs to the client until the ack or error callback recycles it.
			return nil
		}
		// The client waits a short while for a free slot, then gives up without sending;
		// keep waiting as long as ctx allows.
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) && ctx.Err() == nil {
			continue
		}
		p.recycle(m)
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			err = ctx.Err()
		}
		return spanError(span, NATSError(op, "publish to "+m.Subject, err))
	}
}

// header returns an empty header map from the pool. Maps are recycled once the client is
// done with their message — after its ack or failure callback — which is why PublishAsync
// hands out no PubAckFuture (it would expose the message after that point).
// prepare checks msg against the product's rules, records its violations (side publish,
// reported by the owning domain) and builds the message unless a reject rule refused it.
func (p *Publisher) prepare(ctx context.Context, op, key string, msg proto.Message, opts []PublishOption) (*nats.Msg, error) {
	vs, rejected := p.env.check(op, key, msg)
	if vs == nil && rejected != nil {
		return nil, rejected // a bad key or payload type, not a rule
	}
	m, err := p.env.assemble(ctx, op, key, msg, opts, p.header())
	if err != nil {
		return nil, err
	}
	if len(vs) > 0 {
		recordViolations(ctx, p.js, slog.Default(), p.domain, p.id, SidePublish, m.Header.Get(HeaderID), key, vs)
	}
	if rejected != nil {
		p.recycle(m)
		return nil, rejected
	}
	return m, nil
}

func (p *Publisher) header() nats.Header {
	if h, ok := p.headers.Get().(nats.Header); ok {
		return h
	}
	return newHeader()
}

// recycle returns m's header map to the pool; m must not be used afterwards. A map holding
// just the event headers needs no clearing: build overwrites every one of them.
func (p *Publisher) recycle(m *nats.Msg) {
	h := m.Header
	m.Header = nil
	if len(h) != eventHeaders {
		clear(h)
	}
	p.headers.Put(h)
}

// Flush waits until no asynchronous publish is outstanding and reports the ones that failed
// since the previous Flush, as one Unavailable error holding the first few causes. If ctx
// ends first, it says how many are still outstanding.
func (p *Publisher) Flush(ctx context.Context) error {
	const op = "dataproduct.Publisher.Flush"
	select {
	case <-p.async.PublishAsyncComplete():
	case <-ctx.Done():
		return errs.Errorf(op, errs.Unavailable, "%d publishes still awaiting their ack: %w", p.async.PublishAsyncPending(), ctx.Err())
	}
	p.mu.Lock()
	failed, kept := p.failed, p.kept
	p.failed, p.kept = 0, nil
	p.mu.Unlock()
	if failed == 0 {
		return nil
	}
	return errs.Errorf(op, errs.Unavailable, "%d asynchronous publishes failed: %w", failed, errors.Join(kept...))
}

// Close stops accepting events, waits for the outstanding acks like Flush and releases the
// Publisher's reply subscription. It does not close the connection.
func (p *Publisher) Close(ctx context.Context) error {
	if p.closed.Swap(true) {
		return nil
	}
	err := p.Flush(ctx)
	p.async.CleanupPublisher()
	return errs.Wrap("dataproduct.Publisher.Close", err)
}

// asyncFailed records one failed asynchronous publish and passes it to the handler.
func (p *Publisher) asyncFailed(m *nats.Msg, err error) {
	p.mu.Lock()
	p.failed++
	if len(p.kept) < maxKeptErrors {
		p.kept = append(p.kept, errs.Errorf("dataproduct.Publisher", errs.Unavailable, "event %s on %s: %w", m.Header.Get(HeaderID), m.Subject, err))
	}
	p.mu.Unlock()
	if p.onError != nil {
		p.onError(m, err)
	}
	p.recycle(m)
}

// spanError marks span failed with err and returns err.
func spanError(span trace.Span, err error) error {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	return err
}
