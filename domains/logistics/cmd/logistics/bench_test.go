package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/tracking"
)

type nopSink struct{}

func (nopSink) Set(context.Context, tracking.Fix) error      { return nil }
func (nopSink) Position(context.Context, tracking.Fix) error { return nil }

// ping is the i-th ping of one of 100 vans driving north, 5 s apart.
func ping(i int, t0 time.Time) *logisticsv1.IngestPositionsRequest {
	van, step := i%100, i/100
	return &logisticsv1.IngestPositionsRequest{
		VehicleId:  fmt.Sprintf("bench-%03d", van),
		RecordedAt: timestamppb.New(t0.Add(time.Duration(step) * 5 * time.Second)),
		Position:   &logisticsv1.LatLng{Lat: 52.30 + 0.0004*float64(step%500), Lng: 4.80 + 0.002*float64(van)},
		SpeedMps:   10,
	}
}

// BenchmarkIngest measures position ingest throughput: in-process pipeline with no-op sinks (the
// baseline: validation, de-duplication, H3, learning) and end to end over a gRPC client stream
// into Redis and JetStream.
func BenchmarkIngest(b *testing.B) {
	t0 := time.Now().UTC().Add(-12 * time.Hour)
	b.Run("pipeline", func(b *testing.B) {
		p := &tracking.Pipeline{
			Resolution: 9, Filter: position.NewFilter(position.Limits{}, 64),
			Tracker: route.NewTracker(route.NewModel(route.ModelConfig{})), Live: nopSink{}, Publish: nopSink{},
			Now: func() time.Time { return time.Now().UTC() },
		}
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req := ping(i, t0)
			p.Ingest(ctx, position.Ping{Vehicle: req.VehicleId, At: req.RecordedAt.AsTime(), Lat: req.Position.Lat, Lng: req.Position.Lng, SpeedMPS: 10})
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pings/s")
	})
	b.Run("grpc-stream", func(b *testing.B) {
		u := start(b, nil)
		s, err := u.client.IngestPositions(u.as(b, "service"))
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.Send(ping(i, t0)); err != nil {
				b.Fatal(err)
			}
		}
		resp, err := s.CloseAndRecv()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if resp.GetAccepted() != int64(b.N) {
			b.Fatalf("accepted %d of %d", resp.GetAccepted(), b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pings/s")
	})
}
