package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"meshwork.dev/platform/outbox"
)

// BenchmarkRelay measures events relayed per second from a committed backlog of b.N events
// on 100 subjects, against the baseline of publishing the same messages directly with
// synchronous JetStream publishes (the floor a relay builds on).
func BenchmarkRelay(b *testing.B) {
	b.Run("direct-publish", func(b *testing.B) {
		e := newEnv(b)
		createStream(b, e.js)
		msgs := benchEvents(b.N)
		b.ResetTimer()
		for _, m := range msgs {
			if _, err := e.js.PublishMsg(b.Context(), m); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	for _, bc := range []struct {
		relays, batch int
	}{{1, 100}, {1, 500}, {2, 100}} {
		b.Run(fmt.Sprintf("relays=%d/batch=%d", bc.relays, bc.batch), func(b *testing.B) {
			e := newEnv(b)
			createStream(b, e.js)
			benchEnqueue(b, e, benchEvents(b.N))
			cfg := fastConfig()
			cfg.BatchSize = bc.batch
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			b.ResetTimer()
			var rs []*running
			for range bc.relays {
				rs = append(rs, start(b, e, cfg))
			}
			for published(rs) < uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkEnqueue measures a transaction that enqueues one event (insert plus notify).
func BenchmarkEnqueue(b *testing.B) {
	e := newEnv(b)
	msgs := benchEvents(b.N)
	b.ResetTimer()
	for _, m := range msgs {
		err := pgx.BeginFunc(b.Context(), e.pool, func(tx pgx.Tx) error {
			return outbox.Enqueue(b.Context(), tx, m)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchEvents builds n events of 200-byte payloads on 100 subjects.
func benchEvents(n int) []*nats.Msg {
	payload := make([]byte, 200)
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		msgs[i] = event(eventID("bench", i), fmt.Sprintf("dp.test.things.v1.k%d", i%100), payload)
	}
	return msgs
}

// benchEnqueue commits msgs, 1000 to a transaction.
func benchEnqueue(b *testing.B, e env, msgs []*nats.Msg) {
	ctx := context.Background()
	for len(msgs) > 0 {
		n := min(len(msgs), 1000)
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			for _, m := range msgs[:n] {
				if err := outbox.Enqueue(ctx, tx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		msgs = msgs[n:]
	}
}

func published(rs []*running) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.relay.Stats().Published
	}
	return n
}
