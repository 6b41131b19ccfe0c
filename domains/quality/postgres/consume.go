package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
)

// GCPercent is the garbage-collection target the quality service runs with (cmd/quality sets
// it unless GOGC is set): the raw → clean path allocates a few short-lived objects per reading
// and keeps little alive, so collecting at 5× the live heap instead of 2× costs little memory
// and saves a tenth of the CPU (docs/benchmarks.md).
const GCPercent = 400

// BatchConfig tunes the batch consumer.
type BatchConfig struct {
	// Size is the most readings per transaction (default 2000).
	Size int
	// Wait is the longest a fetch waits to fill a batch (default 5ms).
	Wait time.Duration
	// Retry is the pause before a failed batch is applied again (default 1s).
	Retry time.Duration
	// Logger receives what cannot be returned (default slog.Default()).
	Logger *slog.Logger
	// Outbox enqueues the derived events in the outbox (published by the relay and a flusher)
	// instead of publishing them directly before each batch's commit.
	Outbox bool
}

// fetched is one fetch's applicable readings, in stream order.
type fetched struct {
	msgs  []jetstream.Msg
	items []Item
}

// inFlight is a batch handed to the committer; barrier (with msgs nil) asks the committer to
// report, once everything before it is settled, the batches it could not commit.
type inFlight struct {
	f       *fetched
	p       *pending
	barrier chan []*fetched
}

// ConsumeBatches consumes raw-readings with the processor's durable and applies them in stream
// order, in three overlapping stages:
//
//   - a fetcher fetches the next batch (and dead-letters readings of unknown sensors and
//     payloads that do not decode) while the current one is applied;
//   - the applier, alone with the in-memory states, opens batch N's transaction (inbox, state
//     rows), runs the filters and publishes N's derived events asynchronously, then goes on
//     to batch N+1 without waiting for N's acks;
//   - the committer, strictly in batch order, waits for N's publish acks, saves the states as
//     they stood after N, commits, and only then acks N's raw messages.
//
// If any step of batch N fails, N and every batch after it that is not committed are rolled
// back, the cached states dropped, and those batches applied again in order from the saved
// states after Retry (their messages kept in progress), so a failure never lets a later
// reading overtake an earlier one; the events of the retry have the same ids, so the copies
// published before the failure are dropped by the streams' duplicate window. It returns when
// ctx ends, after applying what was fetched; batches still failing then are nak'ed.
func (s *State) ConsumeBatches(ctx context.Context, js jetstream.JetStream, proc *pipeline.Processor, cfg BatchConfig) error {
	const op = "postgres.ConsumeBatches"
	if cfg.Size <= 0 {
		cfg.Size = 2000
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 5 * time.Millisecond
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := stream.RawReadings
	cons, err := js.CreateOrUpdateConsumer(ctx, p.StreamName(), jetstream.ConsumerConfig{
		Durable: p.DurableName(pipeline.Consumer) + "-batch", Description: "quality filtering raw readings in batches",
		FilterSubject: p.SubjectFilter(), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxDeliver: -1, MaxAckPending: 6 * cfg.Size, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	bg := context.WithoutCancel(ctx)
	wake := make(chan struct{}, 1)
	direct := js
	if cfg.Outbox {
		direct = nil
		flushed := make(chan struct{})
		go func() { defer close(flushed); s.flusher(ctx, js, wake, cfg) }()
		defer func() { <-flushed }()
	}
	batches := make(chan *fetched, 1)
	go s.fetch(ctx, bg, cons, js, proc, cfg, batches)
	queue := make(chan inFlight, 1)
	committed := make(chan struct{})
	broken := make(chan struct{}, 1) // the committer failed: settle and retry
	go func() { defer close(committed); s.commit(bg, queue, broken, wake, cfg.Logger) }()
	defer func() { close(queue); <-committed }()

	var redo []*fetched
	for {
		f, failed, ok := next(batches, broken, &redo)
		if !ok {
			break
		}
		if !failed {
			s.mu.Lock()
			pd, err := s.begin(bg, s.cache, f.items, direct, false) // one writer, batches pipelined: the cache runs ahead of the database by design
			s.mu.Unlock()
			if err == nil {
				queue <- inFlight{f: f, p: pd}
				continue
			}
			cfg.Logger.ErrorContext(ctx, "apply raw readings; retrying in order", "n", len(f.items), "err", err)
			redo = append([]*fetched{f}, redo...)
		}
		redo = append(s.settle(queue, broken), redo...)
		if !s.pause(ctx, redo, cfg.Retry) {
			break
		}
	}
	// Apply nothing more: commit what is in flight; whatever fails now is redelivered later.
	redo = append(s.settle(queue, broken), redo...)
	for f := range batches {
		redo = append(redo, f)
	}
	for _, f := range redo {
		for _, m := range f.msgs {
			_ = m.Nak()
		}
	}
	return nil
}

// next returns the batch to apply next: the oldest one to redo, else the next one fetched.
// failed says the committer signalled a failure instead (the batches after the failed one were
// rolled back: settle first); ok is false once the fetcher is done.
func next(batches <-chan *fetched, broken <-chan struct{}, redo *[]*fetched) (f *fetched, failed, ok bool) {
	select {
	case <-broken:
		return nil, true, true
	default:
	}
	if len(*redo) > 0 {
		f, *redo = (*redo)[0], (*redo)[1:]
		return f, false, true
	}
	select {
	case f, ok = <-batches:
		return f, false, ok
	case <-broken:
		return nil, true, true
	}
}

// settle waits until the committer has dealt with everything queued and returns the batches
// it rolled back, in order, then drops the cache (it may have run ahead of the committed
// states), so the next begin reads them from the database.
func (s *State) settle(queue chan<- inFlight, broken <-chan struct{}) []*fetched {
	reply := make(chan []*fetched)
	queue <- inFlight{barrier: reply}
	failed := <-reply
	select { // the committer is idle now: a pending signal is about the failures just taken
	case <-broken:
	default:
	}
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
	return failed
}

// pause waits before a retry, keeping the batches' messages from being redelivered meanwhile;
// false when ctx ended.
func (s *State) pause(ctx context.Context, redo []*fetched, d time.Duration) bool {
	for _, f := range redo {
		for _, m := range f.msgs {
			_ = m.InProgress()
		}
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// commit is the committer: in queue order it finishes each batch and acks its messages. After
// a failure it signals broken and rolls back every later batch until a barrier, to which it
// reports them all.
func (s *State) commit(ctx context.Context, queue <-chan inFlight, broken chan<- struct{}, wake chan<- struct{}, log *slog.Logger) {
	var failed []*fetched
	for it := range queue {
		if it.barrier != nil {
			it.barrier <- failed
			failed = nil
			continue
		}
		if failed != nil {
			_ = it.p.tx.Rollback(ctx)
			failed = append(failed, it.f)
			continue
		}
		if err := s.finish(ctx, it.p); err != nil {
			log.ErrorContext(ctx, "commit raw readings; retrying in order", "n", len(it.f.items), "err", err)
			failed = []*fetched{it.f}
			select {
			case broken <- struct{}{}:
			default:
			}
			continue
		}
		for _, m := range it.f.msgs {
			if err := m.Ack(); err != nil {
				log.WarnContext(ctx, "ack raw reading (the inbox drops its redelivery)", "err", err)
			}
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// fetch is the fetcher: it fetches batches until ctx ends, dead-letters what cannot be applied
// and hands the rest over in stream order; it closes out when done.
func (s *State) fetch(ctx, bg context.Context, cons jetstream.Consumer, js jetstream.JetStream, proc *pipeline.Processor, cfg BatchConfig, out chan<- *fetched) {
	defer close(out)
	for ctx.Err() == nil {
		batch, err := cons.Fetch(cfg.Size, jetstream.FetchMaxWait(cfg.Wait))
		if err != nil {
			cfg.Logger.WarnContext(ctx, "fetch raw readings", "err", err)
			time.Sleep(cfg.Wait)
			continue
		}
		f := &fetched{}
		for m := range batch.Messages() {
			id := m.Headers().Get(dataproduct.HeaderID)
			r := &qualityv1.RawReading{}
			reason := ""
			switch {
			case id == "":
				reason = dataproduct.HeaderID + " is missing"
			case proto.Unmarshal(m.Data(), r) != nil:
				reason = "payload does not decode as mesh.quality.v1.RawReading"
			case !proc.Known(r):
				reason = fmt.Sprintf("unknown sensor %s on machine %s", r.GetSensorId(), r.GetMachineId())
			}
			if reason != "" {
				s.deadLetter(bg, js, m, reason, cfg.Logger)
				continue
			}
			f.msgs = append(f.msgs, m)
			f.items = append(f.items, Item{Machine: r.GetMachineId(), EventID: id, Step: proc.Step(bg, id, r)})
		}
		if len(f.items) > 0 {
			out <- f // handed over even when ctx just ended: the applier drains out
		}
	}
}

func (s *State) deadLetter(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, reason string, log *slog.Logger) {
	out := nats.NewMsg(stream.RawReadings.DeadLetterSubject(pipeline.Consumer))
	out.Data = m.Data()
	for k, v := range m.Headers() {
		out.Header[k] = v
	}
	out.Header.Del(jetstream.MsgIDHeader)
	out.Header.Set(dataproduct.HeaderDLQReason, reason)
	out.Header.Set(dataproduct.HeaderDLQSubject, m.Subject())
	if _, err := js.PublishMsg(ctx, out); err != nil {
		log.ErrorContext(ctx, "dead-letter a raw reading; redelivering", "reason", reason, "err", err)
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.Term()
}
