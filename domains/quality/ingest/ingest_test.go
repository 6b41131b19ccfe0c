package ingest

import (
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
)

type registry map[string]bool

func (r registry) Known(m, s string) bool { return r[m+"/"+s] }

func TestAccept(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	reg := registry{"m1/t1": true}
	pb, _ := proto.Marshal(&qualityv1.RawReading{SensorId: "t1", Value: 41, SampledAt: timestamppb.New(now), DeviceSeq: 3})
	wrong, _ := proto.Marshal(&qualityv1.RawReading{SensorId: "t2", Value: 41})
	nan, _ := proto.Marshal(&qualityv1.RawReading{Value: math.NaN(), SampledAt: timestamppb.New(now)})
	tests := []struct {
		name, subject, payload string
		want                   float64
		channel                qualityv1.IngestChannel
		refused                bool
	}{
		{"nats json", "ingest.quality.m1.t1", `{"value": 41.5, "time": "2026-01-05T09:59:00Z", "seq": 2}`, 41.5, qualityv1.IngestChannel_INGEST_CHANNEL_NATS, false},
		{"mqtt json millis", "factory.m1.t1", `{"value": 40, "time": 1767607140000}`, 40, qualityv1.IngestChannel_INGEST_CHANNEL_MQTT, false},
		{"json without time", "factory.m1.t1", ` {"value": 39}`, 39, qualityv1.IngestChannel_INGEST_CHANNEL_MQTT, false},
		{"protobuf", "factory.m1.t1", string(pb), 41, qualityv1.IngestChannel_INGEST_CHANNEL_MQTT, false},
		{"unknown sensor", "factory.m1.t9", `{"value": 1}`, 0, 0, true},
		{"no value", "factory.m1.t1", `{"time": 1}`, 0, 0, true},
		{"unknown field", "factory.m1.t1", `{"value": 1, "extra": 2}`, 0, 0, true},
		{"broken json", "factory.m1.t1", `{"value": `, 0, 0, true},
		{"bad time", "factory.m1.t1", `{"value": 1, "time": "noon"}`, 0, 0, true},
		{"future", "factory.m1.t1", `{"value": 1, "time": "2027-01-01T00:00:00Z"}`, 0, 0, true},
		{"garbage", "factory.m1.t1", "\xff\xff\xff", 0, 0, true},
		{"empty", "factory.m1.t1", "", 0, 0, true},
		{"protobuf for another sensor", "factory.m1.t1", string(wrong), 0, 0, true},
		{"not finite", "factory.m1.t1", string(nan), 0, 0, true},
		{"bad subject", "ingest.quality.m1", `{"value": 1}`, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Accept(tt.subject, []byte(tt.payload), reg, now)
			if tt.refused {
				var ref *Refusal
				if !errors.As(err, &ref) || ref.Reason == "" {
					t.Fatalf("err = %v, want a refusal with a reason", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.GetValue() != tt.want || r.GetChannel() != tt.channel || r.GetMachineId() != "m1" || r.GetSensorId() != "t1" {
				t.Fatalf("reading %v", r)
			}
		})
	}
}
