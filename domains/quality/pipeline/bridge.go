// Package pipeline moves readings through the quality products: the Bridge takes what devices
// publish on NATS (ingest.quality.<machine>.<sensor>) and MQTT (factory/<machine>/<sensor>,
// which NATS delivers as factory.<machine>.<sensor>) into quality.raw-readings.v1, refusals to
// the dead-letter subject; the Processor consumes raw readings in order and publishes clean
// readings, sensor faults and machine health.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/ingest"
	"meshwork.dev/platform/dataproduct"
)

// HeaderOriginalSubject names the subject a dead-lettered reading was sent on.
const HeaderOriginalSubject = "dlq-subject"

// QueueGroup is the queue group of the bridge's subscriptions, so replicas share the work.
const QueueGroup = "quality-ingest"

// Bridge forwards device readings to quality.raw-readings.v1.
type Bridge struct {
	nc   *nats.Conn
	pub  *dataproduct.Publisher
	reg  ingest.Registry
	log  *slog.Logger
	subs []*nats.Subscription
	now  func() time.Time
}

// StartBridge subscribes to both ingest subjects. pub publishes raw-readings events.
func StartBridge(nc *nats.Conn, pub *dataproduct.Publisher, reg ingest.Registry, log *slog.Logger) (*Bridge, error) {
	b := &Bridge{nc: nc, pub: pub, reg: reg, log: log, now: time.Now}
	for _, subj := range []string{ingest.NATSPrefix + ".>", ingest.MQTTPrefix + ".>"} {
		s, err := nc.QueueSubscribe(subj, QueueGroup, b.handle)
		if err != nil {
			b.Stop()
			return nil, fmt.Errorf("pipeline.StartBridge %s: %w", subj, err)
		}
		b.subs = append(b.subs, s)
	}
	return b, nc.Flush()
}

// Stop drains the subscriptions: messages already received are still forwarded.
func (b *Bridge) Stop() {
	for _, s := range b.subs {
		if err := s.Drain(); err != nil {
			b.log.Warn("drain ingest subscription", "subject", s.Subject, "err", err)
		}
	}
}

func (b *Bridge) handle(m *nats.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ingest.Accept(m.Subject, m.Data, b.reg, b.now())
	if err == nil {
		err = Forward(ctx, b.pub, r)
	}
	if err != nil {
		b.deadLetter(m, err)
	}
}

// Forward publishes an accepted reading to raw-readings, keyed by machine id: the machine is
// the pipeline's unit of order (drift and health look across its sensors).
func Forward(ctx context.Context, pub *dataproduct.Publisher, r *qualityv1.RawReading) error {
	_, err := pub.Publish(ctx, r.GetMachineId(), r,
		dataproduct.WithEventTime(r.GetSampledAt().AsTime()))
	if err != nil {
		return fmt.Errorf("publish raw reading: %w", err)
	}
	return nil
}

// deadLetter parks the original payload with the reason, so no reading disappears silently.
func (b *Bridge) deadLetter(m *nats.Msg, cause error) {
	reason := cause.Error()
	var ref *ingest.Refusal
	if !errors.As(cause, &ref) {
		reason = "not forwarded: " + reason
	}
	out := nats.NewMsg(ingest.DeadLetterSubject(m.Subject))
	out.Data = m.Data
	out.Header.Set(dataproduct.HeaderDLQReason, reason)
	out.Header.Set(HeaderOriginalSubject, m.Subject)
	out.Header.Set(dataproduct.HeaderDLQTime, b.now().UTC().Format(time.RFC3339))
	if err := b.nc.PublishMsg(out); err != nil {
		b.log.Error("dead-letter a refused reading", "subject", m.Subject, "reason", reason, "err", err)
	}
}
