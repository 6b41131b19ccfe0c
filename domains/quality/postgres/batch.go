package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
)

// Item is one raw reading of a batch.
type Item struct {
	// Machine and EventID name it; Step filters it.
	Machine, EventID string
	Step             pipeline.Step
}

// ApplyBatch applies items in order in ONE transaction: each is skipped if its event id is in
// the inbox, otherwise filtered and its events enqueued; each touched machine's state is saved
// once at the end. One commit (one fsync) per batch instead of per reading, and one statement
// each for the inbox records and the outbox rows of the whole batch.
func (s *State) ApplyBatch(ctx context.Context, items []Item) error {
	return s.applyBatch(ctx, items, nil)
}

// applyBatch is ApplyBatch; with js set, the derived events are published directly (see
// publishBatch) before the commit instead of enqueued in the outbox.
func (s *State) applyBatch(ctx context.Context, items []Item, js jetstream.JetStream) error {
	const op = "postgres.State.ApplyBatch"
	s.mu.Lock()
	defer s.mu.Unlock()
	dirty := map[string]*readings.Machine{}
	applied := map[string]int{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.EventID
		}
		first, err := processedBatch(ctx, tx, InboxConsumer, ids)
		if err != nil {
			return err
		}
		var out []*nats.Msg
		for _, it := range items {
			if !first[it.EventID] {
				continue
			}
			delete(first, it.EventID) // the same event twice in one batch is applied once
			m, ok := dirty[it.Machine]
			if !ok {
				if m, err = s.load(ctx, tx, it.Machine); err != nil {
					return err
				}
				dirty[it.Machine] = m
			}
			msgs, err := it.Step(m)
			if err != nil {
				return err
			}
			out = append(out, msgs...)
			applied[it.Machine]++
		}
		if js != nil {
			if err := publishBatch(ctx, js, out); err != nil {
				return err
			}
		} else if err := enqueueBatch(ctx, tx, out); err != nil {
			return err
		}
		for id, m := range dirty {
			raw, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO quality_filter_state (machine_id, state, applied) VALUES ($1, $2, $3)
ON CONFLICT (machine_id) DO UPDATE SET state = EXCLUDED.state, applied = quality_filter_state.applied + $3, updated_at = now()`,
				id, raw, applied[id]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for id := range dirty {
			delete(s.cache, id)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// BatchConfig tunes the batch consumer.
type BatchConfig struct {
	// Size is the most readings per transaction (default 1000).
	Size int
	// Wait is the longest a fetch waits to fill a batch (default 5ms).
	Wait time.Duration
	// Logger receives what cannot be returned (default slog.Default()).
	Logger *slog.Logger
	// Outbox enqueues the derived events in the outbox (published by the relay and a flusher)
	// instead of publishing them directly before each batch's commit.
	Outbox bool
}

// ConsumeBatches consumes raw-readings with the processor's durable, in order (one fetcher,
// one batch at a time), applying each batch in one transaction and acking its messages after
// the commit. A reading whose sensor is unknown or whose payload does not decode goes to the
// product's dead-letter subject for the quality consumer and is terminated. It returns when ctx
// ends; a batch in flight is finished first.
func (s *State) ConsumeBatches(ctx context.Context, js jetstream.JetStream, proc *pipeline.Processor, cfg BatchConfig) error {
	const op = "postgres.ConsumeBatches"
	if cfg.Size <= 0 {
		cfg.Size = 1000
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 5 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := stream.RawReadings
	cons, err := js.CreateOrUpdateConsumer(ctx, p.StreamName(), jetstream.ConsumerConfig{
		Durable: p.DurableName(pipeline.Consumer) + "-batch", Description: "quality filtering raw readings in batches",
		FilterSubject: p.SubjectFilter(), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxDeliver: -1, MaxAckPending: 4 * cfg.Size, DeliverPolicy: jetstream.DeliverAllPolicy,
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
	for ctx.Err() == nil {
		batch, err := cons.Fetch(cfg.Size, jetstream.FetchMaxWait(cfg.Wait))
		if err != nil {
			cfg.Logger.WarnContext(ctx, "fetch raw readings", "err", err)
			time.Sleep(cfg.Wait)
			continue
		}
		var msgs []jetstream.Msg
		var items []Item
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
			msgs = append(msgs, m)
			items = append(items, Item{Machine: r.GetMachineId(), EventID: id, Step: proc.Step(bg, id, r)})
		}
		if len(items) == 0 {
			continue
		}
		if err := s.applyBatch(bg, items, direct); err != nil {
			cfg.Logger.ErrorContext(ctx, "apply raw readings; redelivering", "n", len(items), "err", err)
			for _, m := range msgs {
				_ = m.NakWithDelay(time.Second)
			}
			continue
		}
		for _, m := range msgs {
			if err := m.Ack(); err != nil {
				cfg.Logger.WarnContext(ctx, "ack raw reading (the inbox drops its redelivery)", "err", err)
			}
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	return nil
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
