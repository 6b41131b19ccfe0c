package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
)

// TestBatchDeadLettersUnknownSensor sends a raw reading of a sensor the registry does not know
// (deleted after ingestion): it is parked on the dead-letter subject with its reason, and the
// known sensor's reading after it is still applied.
func TestBatchDeadLettersUnknownSensor(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := startServers(t, ctx)
	js := srv.js
	st := postgres.New(srv.pool)
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		t.Fatal(err)
	}
	now := timestamppb.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	for _, s := range []string{"gone", "t1"} {
		if err := pipeline.Forward(ctx, pub, &qualityv1.RawReading{MachineId: "m1", SensorId: s, SampledAt: now, Value: 40}); err != nil {
			t.Fatal(err)
		}
	}
	reg := registry{"m1/t1": {ID: "t1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute}}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.ConsumeBatches(cctx, js, pipeline.NewProcessor(reg, st), postgres.BatchConfig{}) }()
	// Read the dead letter from the stream that keeps it, not from a live subscription: the
	// wait may span a redelivery (AckWait), and a stored copy cannot be missed.
	dlq, err := js.Stream(ctx, dataproduct.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	var msg *jetstream.RawStreamMsg
	waitFor(t, "the unknown sensor's dead letter", func() (bool, error) {
		select {
		case err := <-done:
			t.Fatalf("ConsumeBatches returned early: %v", err)
		default:
		}
		msg, err = dlq.GetLastMsgForSubject(ctx, stream.RawReadings.DeadLetterSubject(pipeline.Consumer))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false, nil
		}
		return err == nil, err
	})
	if r := msg.Header.Get(dataproduct.HeaderDLQReason); !strings.Contains(r, "unknown sensor gone") {
		t.Fatalf("dead letter's reason %q, want the unknown sensor named", r)
	}
	waitFor(t, "the known reading applied", func() (bool, error) {
		n, err := st.Applied(ctx, "m1")
		return n == 1, err
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestOutboxModePublishesEveryReading runs the batch consumer in outbox mode with no relay:
// the flusher alone publishes each clean reading, exactly once.
func TestOutboxModePublishesEveryReading(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServers(t, ctx)
	js, pool := srv.js, srv.pool
	st := postgres.New(pool)
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		t.Fatal(err)
	}
	const count = 50
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := range count {
		r := &qualityv1.RawReading{MachineId: "m1", SensorId: "t1", SampledAt: timestamppb.New(t0.Add(time.Duration(i) * time.Minute)), Value: 40}
		if err := pipeline.Forward(ctx, pub, r); err != nil {
			t.Fatal(err)
		}
	}
	reg := registry{"m1/t1": {ID: "t1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute}}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- st.ConsumeBatches(cctx, js, pipeline.NewProcessor(reg, st), postgres.BatchConfig{Size: 7, Outbox: true})
	}()
	clean, err := js.Stream(ctx, stream.CleanReadings.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every clean reading flushed", func() (bool, error) {
		info, err := clean.Info(ctx)
		return err == nil && info.State.Msgs >= count, err
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	info, err := clean.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != count {
		t.Fatalf("clean-readings holds %d messages for %d raw readings", info.State.Msgs, count)
	}
	var pending int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox_events WHERE published_at IS NULL`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Fatalf("%d outbox rows left unpublished", pending)
	}
}
