package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/testinfra"
)

// BenchmarkDurableRawToClean is the service's path: b.N raw readings on embedded NATS, applied
// in batches (one Postgres transaction per batch: inbox, state, outbox), relayed to
// clean-readings. It stops the
// clock when the clean stream holds b.N readings.
func BenchmarkDurableRawToClean(b *testing.B) {
	ctx := context.Background()
	n := testinfra.StartNATS(b)
	js := n.JetStream(b)
	pool := testinfra.StartPostgres(b).Pool(b)
	for _, p := range stream.Products {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			b.Fatal(err)
		}
	}
	st := postgres.New(pool)
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	reg := registry{}
	for i := range 10 {
		id := fmt.Sprintf("s%d", i)
		reg["m1/"+id] = readings.Spec{ID: id, Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}
	}
	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = relay.Run(rctx) }()
	done := make(chan error, 1)
	go func() {
		done <- st.ConsumeBatches(rctx, js, pipeline.NewProcessor(reg, st), postgres.BatchConfig{})
	}()
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		b.Fatal(err)
	}
	clean, err := js.Stream(ctx, stream.CleanReadings.StreamName())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		r := &qualityv1.RawReading{MachineId: "m1", SensorId: fmt.Sprintf("s%d", i%10),
			SampledAt: timestamppb.New(time.Unix(0, int64(i))), Value: 40 + float64(i%7)/10}
		if err := pub.PublishAsync(ctx, "m1", r); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		info, err := clean.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info.State.Msgs >= uint64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d clean readings", info.State.Msgs, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
