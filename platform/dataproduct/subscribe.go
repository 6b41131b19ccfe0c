package dataproduct

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/errs"
)

// Batches below smallBatch pull with smallBatchExpiry (see Subscribe).
const (
	smallBatch       = 16
	smallBatchExpiry = 3 * time.Second
)

// Subscription is a running consumer of one product. Stop or Drain it on shutdown.
type Subscription struct {
	consumer jetstream.Consumer
	durable  string
	ctx      context.Context // parent of every handler's context
	cancel   context.CancelFunc
	loops    []jetstream.ConsumeContext
	stopOnce sync.Once
}

// Subscribe starts consuming p with h through the durable consumer of cfg.ConsumerDomain,
// creating it if needed; replicas subscribing with the same ConsumerDomain share it and
// split the events. ctx bounds the setup; handler contexts keep its values but not its
// cancellation — end the subscription with Drain or Stop. The product's stream must exist
// (see Provision); the DEADLETTER stream is created if it is missing.
func Subscribe(ctx context.Context, js jetstream.JetStream, p Product, cfg ConsumerConfig, h Handler) (*Subscription, error) {
	const op = "dataproduct.Subscribe"
	if h == nil {
		return nil, errs.BadRequest(op, errs.Violation{Field: "handler", Description: "is required"})
	}
	recv, err := newReceiver(op, js, p, cfg, h, nil)
	if err != nil {
		return nil, err
	}
	cfg = recv.cfg
	consumer, err := ensureConsumer(ctx, js, p.StreamName(), cfg.consumerConfig(p))
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	// The producer's Provision creates it; a consumer checks too, since poison messages
	// with nowhere to go would be retried forever.
	if err := ensureDeadLetter(ctx, js, p.withDefaults().Replicas); err != nil {
		return nil, errs.Wrap(op, err)
	}
	if len(p.Rules) > 0 {
		if err := ensureViolations(ctx, js, p.withDefaults().Replicas); err != nil {
			return nil, errs.Wrap(op, err)
		}
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Subscription{consumer: consumer, durable: recv.durable, ctx: hctx, cancel: cancel}
	opts := []jetstream.PullConsumeOpt{jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		cfg.Logger.Warn("dataproduct: consume", "consumer", s.durable, "error", err)
	})}
	if cfg.Batch > 0 {
		opts = append(opts, jetstream.PullMaxMessages(cfg.Batch))
	}
	if cfg.Batch > 0 && cfg.Batch < smallBatch {
		// nats.go (1.55, 1.56) skips the next pull request when a whole batch arrives while
		// the previous request is still being sent, and recovers only when two heartbeats are
		// missed: with the default 30 s expiry, a 30 s stall. Small batches drain that fast
		// under load (seen with Batch 1 under the race detector), so they get a short expiry
		// and recover in smallBatchExpiry instead.
		opts = append(opts, jetstream.PullExpiry(smallBatchExpiry))
	}
	for range cfg.Concurrency {
		cc, err := consumer.Consume(func(msg jetstream.Msg) { recv.Deliver(hctx, msg) }, opts...)
		if err != nil {
			s.stopLoops(false)
			cancel()
			return nil, NATSError(op, "consume "+s.durable, err)
		}
		s.loops = append(s.loops, cc)
	}
	return s, nil
}

// Name is the durable consumer's name.
func (s *Subscription) Name() string { return s.durable }

// Consumer is the underlying JetStream consumer, for inspection.
func (s *Subscription) Consumer() jetstream.Consumer { return s.consumer }

// Drain stops fetching, lets the handlers finish the events already fetched and waits for
// them. If ctx ends first, the handlers' contexts are cancelled, the rest is left to
// redelivery, and ctx's error is returned.
func (s *Subscription) Drain(ctx context.Context) error {
	s.stopLoops(true)
	if err := s.wait(ctx); err != nil {
		s.cancel()
		return errs.Errorf("dataproduct.Subscription.Drain", errs.Unavailable, "%s: %w", s.durable, err)
	}
	s.cancel()
	return nil
}

// Stop stops fetching, cancels the running handlers' contexts and waits, up to ctx, for
// them to return. Fetched events not yet handled are redelivered after AckWait; an event
// whose handler fails after the cancellation is handed back at once (so it comes before the
// events after it) and is never dead-lettered for that failure.
func (s *Subscription) Stop(ctx context.Context) error {
	s.stopLoops(false)
	s.cancel()
	if err := s.wait(ctx); err != nil {
		return errs.Errorf("dataproduct.Subscription.Stop", errs.Unavailable, "%s: %w", s.durable, err)
	}
	return nil
}

// stopLoops stops (or drains) every consume loop, once.
func (s *Subscription) stopLoops(drain bool) {
	s.stopOnce.Do(func() {
		for _, cc := range s.loops {
			if drain {
				cc.Drain()
			} else {
				cc.Stop()
			}
		}
	})
}

// wait blocks until every consume loop has finished its last callback, or ctx ends.
func (s *Subscription) wait(ctx context.Context) error {
	for _, cc := range s.loops {
		select {
		case <-cc.Closed():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
