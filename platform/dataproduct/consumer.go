package dataproduct

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/errs"
)

// Consumer defaults.
const (
	DefaultMaxDeliver = 5
	DefaultAckWait    = 30 * time.Second
)

// DefaultBackoff is the redelivery delay after a handler's first, second and later failures.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

// consumerAttempts bounds the create/update race between replicas subscribing together.
const consumerAttempts = 5

// ConsumerConfig says who consumes a product and how.
type ConsumerConfig struct {
	// ConsumerDomain is the consuming domain (kebab-case); the durable consumer is
	// Product.DurableName(ConsumerDomain), shared by all of the domain's replicas.
	ConsumerDomain string
	// Key, if set, delivers only that key's events.
	Key string
	// StartSeq or StartTime (at most one) replay from a stream sequence or a time. Without
	// either a new durable starts at the beginning of the retained history (a new consumer
	// builds its state from all it can see). The start applies when the durable is created;
	// an existing durable resumes where it is, whatever these say, so replicas and restarts
	// agree. Replay again with a new durable (ConsumerDomain) or after deleting it.
	StartSeq  uint64
	StartTime time.Time
	// MaxDeliver is how often an event is tried before it is dead-lettered (default 5). The
	// Subscription enforces it, not the server (whose MaxDeliver is unlimited), so an event
	// whose last try ended without an outcome is dead-lettered too, on its next delivery.
	MaxDeliver int
	// Backoff[i] is the redelivery delay after the (i+1)th failure; the last entry repeats
	// (default DefaultBackoff).
	Backoff []time.Duration
	// AckWait is how long a delivery may stay unacknowledged before the server redelivers it
	// (default 30s): a delivery fetched by a replica that crashed, or buffered but not yet
	// handled. A running handler is not bound by it: the Subscription reports the delivery in
	// progress every half AckWait while its handler runs.
	AckWait time.Duration
	// MaxAckPending bounds the events delivered but not yet acknowledged, across replicas
	// (default: the server's, 1000).
	MaxAckPending int
	// Concurrency is how many handlers run at once in this process (default 1). With 1 and
	// a single replica, events are handled in stream order, a redelivered one excepted; with
	// more, order is not kept.
	Concurrency int
	// Batch is how many events each handler loop buffers ahead (default: the client's, 500).
	Batch int
	// Logger receives what cannot be returned: failed acks, dead-letter failures, consume
	// errors (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults fills the zero settings of c.
func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate reports every problem with c as one errs.Invalid error.
func (c ConsumerConfig) validate() error {
	var vs []errs.Violation
	bad := func(field, desc string) { vs = append(vs, errs.Violation{Field: field, Description: desc}) }
	if !kebab.MatchString(c.ConsumerDomain) {
		bad("ConsumerDomain", strconv.Quote(c.ConsumerDomain)+" is not a kebab-case name")
	}
	if c.Key != "" && ValidKey(c.Key) != nil {
		bad("Key", strconv.Quote(c.Key)+" is not a single subject token")
	}
	if c.StartSeq != 0 && !c.StartTime.IsZero() {
		bad("StartSeq", "set StartSeq or StartTime, not both")
	}
	if c.MaxDeliver < 1 {
		bad("MaxDeliver", "must be at least 1")
	}
	for i, d := range c.Backoff {
		if d <= 0 {
			bad("Backoff["+strconv.Itoa(i)+"]", "must be positive")
		}
	}
	if c.AckWait < 0 || c.MaxAckPending < 0 || c.Concurrency < 1 || c.Batch < 0 {
		bad("AckWait/MaxAckPending/Concurrency/Batch", "must not be negative")
	}
	if len(vs) > 0 {
		return errs.BadRequest("dataproduct.ConsumerConfig", vs...)
	}
	return nil
}

// consumerConfig is the durable pull consumer for c on p. MaxDeliver is unlimited on the
// server: the Subscription enforces c.MaxDeliver itself, so an event whose last delivery
// was never acknowledged (a crashed replica, a failed dead-letter publish) is delivered once
// more and dead-lettered then, instead of being left stranded by the server.
func (c ConsumerConfig) consumerConfig(p Product) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       p.DurableName(c.ConsumerDomain),
		Description:   c.ConsumerDomain + " consuming " + p.ID(),
		FilterSubject: p.SubjectFilter(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if c.Key != "" {
		cc.FilterSubject = p.subjectPrefix() + c.Key
	}
	switch {
	case c.StartSeq != 0:
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, c.StartSeq
	case !c.StartTime.IsZero():
		t := c.StartTime
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	return cc
}

// ensureConsumer creates or updates the durable, keeping the start position of an existing
// one (JetStream cannot change it, and replicas may compute different start times).
func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	const op = "dataproduct.ensureConsumer"
	var lastErr error
	for range consumerAttempts {
		c, err := ensureConsumerOnce(ctx, js, stream, cc)
		if err == nil || errs.KindOf(err) == errs.FailedPrecondition {
			return c, err
		}
		// Another replica may have created it with another start between our look-up and
		// our create, or a request raced with its creation went unanswered: look again.
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, NATSError(op, "create consumer "+cc.Durable, lastErr)
}

// ensureConsumerOnce is one attempt of ensureConsumer, bounded by provisionRequestTimeout.
func ensureConsumerOnce(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	const op = "dataproduct.ensureConsumer"
	ctx, cancel := context.WithTimeout(ctx, provisionRequestTimeout)
	defer cancel()
	want := cc
	existing, err := js.Consumer(ctx, stream, cc.Durable)
	switch {
	case err == nil:
		have := existing.CachedInfo().Config
		want.DeliverPolicy, want.OptStartSeq, want.OptStartTime = have.DeliverPolicy, have.OptStartSeq, have.OptStartTime
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, errs.Errorf(op, errs.FailedPrecondition, "stream %s of the product is not provisioned: %w", stream, err)
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, NATSError(op, "look up consumer "+cc.Durable, err)
	}
	return js.CreateOrUpdateConsumer(ctx, stream, want)
}
