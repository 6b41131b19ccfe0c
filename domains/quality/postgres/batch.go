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
	"meshwork.dev/platform/outbox"
)

// Item is one raw reading of a batch.
type Item struct {
	// Machine and EventID name it; Step filters it.
	Machine, EventID string
	Step             pipeline.Step
}

// ApplyBatch applies items in order in ONE transaction: each is skipped if its event id is in
// the inbox, otherwise filtered and its events enqueued; each touched machine's state is saved
// once at the end. One commit (one fsync) per batch instead of per reading.
func (s *State) ApplyBatch(ctx context.Context, items []Item) error {
	const op = "postgres.State.ApplyBatch"
	s.mu.Lock()
	defer s.mu.Unlock()
	dirty := map[string]*readings.Machine{}
	applied := map[string]int{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, it := range items {
			first, err := outbox.Processed(ctx, tx, InboxConsumer, it.EventID)
			if err != nil {
				return err
			}
			if !first {
				continue
			}
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
			for _, msg := range msgs {
				if err := outbox.Enqueue(ctx, tx, msg); err != nil {
					return err
				}
			}
			applied[it.Machine]++
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
	// Size is the most readings per transaction (default 500).
	Size int
	// Wait is the longest a fetch waits to fill a batch (default 50ms).
	Wait time.Duration
	// Logger receives what cannot be returned (default slog.Default()).
	Logger *slog.Logger
}

// ConsumeBatches consumes raw-readings with the processor's durable, in order (one fetcher,
// one batch at a time), applying each batch in one transaction and acking its messages after
// the commit. A reading whose sensor is unknown or whose payload does not decode goes to the
// product's dead-letter subject for the quality consumer and is terminated. It returns when ctx
// ends; a batch in flight is finished first.
func (s *State) ConsumeBatches(ctx context.Context, js jetstream.JetStream, proc *pipeline.Processor, cfg BatchConfig) error {
	const op = "postgres.ConsumeBatches"
	if cfg.Size <= 0 {
		cfg.Size = 500
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 50 * time.Millisecond
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
		if err := s.ApplyBatch(bg, items); err != nil {
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
