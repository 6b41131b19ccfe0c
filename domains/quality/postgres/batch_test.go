package postgres_test

import (
	"context"
	"testing"
	"time"

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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServers(t, ctx)
	nc, js := srv.nats.Connect(t), srv.js
	st := postgres.New(srv.pool)
	dlq, err := nc.SubscribeSync(stream.RawReadings.DeadLetterSubject(pipeline.Consumer))
	if err != nil {
		t.Fatal(err)
	}
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
	msg, err := dlq.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	if msg.Header.Get(dataproduct.HeaderDLQReason) == "" {
		t.Fatalf("dead letter without a reason: %v", msg.Header)
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
