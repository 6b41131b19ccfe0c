package pipeline_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

// BenchmarkRawToClean publishes b.N raw readings (async) to quality.raw-readings.v1 on an
// embedded NATS and measures until the last clean reading is stored, with the in-memory state
// (the Postgres state adds one transaction per reading: see docs/quality.md). It reports
// readings/s and the p50/p99 latency from raw publish to clean delivery.
func BenchmarkRawToClean(b *testing.B) {
	ctx := context.Background()
	n := testinfra.StartNATS(b)
	js := n.JetStream(b)
	for _, p := range stream.Products {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			b.Fatal(err)
		}
	}
	reg := registry{}
	for i := range 10 {
		id := fmt.Sprintf("s%d", i)
		reg["m1/"+id] = readings.Spec{ID: id, Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}
	}
	sub, err := pipeline.NewProcessor(reg, pipeline.NewMemory(js)).Subscribe(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Stop(ctx)
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, stream.CleanReadings.StreamName(), jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		b.Fatal(err)
	}
	sent := make([]time.Time, b.N)
	lat := make([]time.Duration, 0, b.N)
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var c qualityv1.CleanReading
		if proto.Unmarshal(m.Data(), &c) == nil {
			lat = append(lat, time.Since(sent[c.GetSampledAt().AsTime().UnixNano()%int64(b.N)]))
			if len(lat) == b.N {
				close(done)
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	base := time.Unix(0, 0)
	b.ResetTimer()
	for i := range b.N {
		sent[i] = time.Now()
		r := &qualityv1.RawReading{MachineId: "m1", SensorId: fmt.Sprintf("s%d", i%10),
			SampledAt: timestamppb.New(base.Add(time.Duration(i))), Value: 40 + float64(i%7)/10}
		if err := pub.PublishAsync(ctx, "m1", r); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d clean readings", len(lat), b.N)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
