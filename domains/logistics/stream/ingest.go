package stream

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/domains/logistics/tracking"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// IngestSubjectPrefix is where vehicles send pings: ingest.logistics.<vehicle id>, one
// protobuf mesh.logistics.v1.IngestPositionsRequest per message.
const IngestSubjectPrefix = "ingest.logistics."

// IngestDeadLetter is where malformed or invalid pings go, with a dlq-reason header; it falls in
// the shared DEADLETTER stream (dlq.>).
const IngestDeadLetter = "dlq.logistics.ingest"

// Ingest subscribes the pipeline to ingest.logistics.* in queue group "logistics", so replicas
// share the load. Pings are at-most-once over core NATS: a lost ping only thins the data.
func Ingest(nc *nats.Conn, p *tracking.Pipeline, log *slog.Logger) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(IngestSubjectPrefix+"*", "logistics", func(m *nats.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if reason := handle(ctx, p, m); reason != "" {
			deadLetter(nc, m, reason, log)
		}
	})
	if err != nil {
		return nil, errs.Errorf("stream.Ingest", errs.Unavailable, "subscribe: %w", err)
	}
	return sub, nil
}

// handle ingests one message and returns why it is dead-lettered, or "".
func handle(ctx context.Context, p *tracking.Pipeline, m *nats.Msg) string {
	var req logisticsv1.IngestPositionsRequest
	if err := proto.Unmarshal(m.Data, &req); err != nil {
		return "payload is not a mesh.logistics.v1.IngestPositionsRequest: " + err.Error()
	}
	vehicle := strings.TrimPrefix(m.Subject, IngestSubjectPrefix)
	if req.GetVehicleId() == "" {
		req.VehicleId = vehicle
	}
	if req.GetVehicleId() != vehicle {
		return "vehicle_id " + req.GetVehicleId() + " does not match the subject"
	}
	_, _, err := p.Ingest(ctx, FromRequest(&req))
	if errs.Is(err, errs.Invalid) {
		return errs.Message(err)
	}
	return ""
}

// FromRequest converts a ping from the contract.
func FromRequest(r *logisticsv1.IngestPositionsRequest) position.Ping {
	p := position.Ping{
		Vehicle: r.GetVehicleId(), Lat: r.GetPosition().GetLat(), Lng: r.GetPosition().GetLng(),
		SpeedMPS: r.GetSpeedMps(), HeadingDeg: r.GetHeadingDeg(),
	}
	if r.GetPosition() == nil {
		p.Lat, p.Lng = 999, 999 // missing: fails validation under position.lat/lng
	}
	if r.GetRecordedAt() != nil {
		p.At = r.GetRecordedAt().AsTime()
	}
	return p
}

func deadLetter(nc *nats.Conn, m *nats.Msg, reason string, log *slog.Logger) {
	if len(reason) > 512 {
		reason = reason[:512]
	}
	dl := nats.NewMsg(IngestDeadLetter)
	dl.Data = m.Data
	for k, v := range m.Header {
		dl.Header[k] = v
	}
	dl.Header.Set(dataproduct.HeaderDLQReason, reason)
	dl.Header.Set(dataproduct.HeaderDLQSubject, m.Subject)
	dl.Header.Set(dataproduct.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	if err := nc.PublishMsg(dl); err != nil {
		log.Warn("dead-letter ping", "subject", m.Subject, "err", err)
	}
}
