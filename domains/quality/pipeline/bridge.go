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
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/ingest"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
)

// Ingest stream and its consumer: the stream captures both ingest subjects, so readings sent
// while no replica runs wait for one instead of being lost at the edge.
const (
	// IngestStream is the JetStream stream holding device readings not yet forwarded.
	IngestStream = "QUALITY_INGEST"
	// IngestConsumer is the durable pull consumer the bridge replicas share.
	IngestConsumer = "quality-ingest"
	// IngestMaxAge is how long an unforwarded reading is kept (a long outage).
	IngestMaxAge = 7 * 24 * time.Hour
	// IngestMaxDeliver is how many times forwarding is tried before the reading is dead-lettered.
	IngestMaxDeliver = 10
)

// IngestTimings are the ingest consumer's timings. The pin moves only after PinnedTTL
// without a pull, and PinnedTTL is longer than AckWait: when a bridge dies holding readings,
// they are due for redelivery before another bridge gets the pin, and the server hands a pull
// what is due for redelivery first — so the next bridge forwards them before anything newer,
// and raw readings keep each machine's order across the crash.
type IngestTimings struct {
	// AckWait is how long a delivered reading may stay unacknowledged before redelivery.
	AckWait time.Duration
	// PullExpiry is how long one pull of the pinned bridge waits at most: it pulls at least
	// this often.
	PullExpiry time.Duration
}

// DefaultIngestTimings are the service's.
var DefaultIngestTimings = IngestTimings{AckWait: 30 * time.Second, PullExpiry: 5 * time.Second}

// PinnedTTL is how long the pinned bridge may go without pulling before another takes over:
// a third longer than AckWait (40 s by default), see IngestTimings.
func (t IngestTimings) PinnedTTL() time.Duration { return t.AckWait + t.AckWait/3 }

// bridgeGroup is the ingest consumer's priority group, which the bridges of all replicas join.
const bridgeGroup = "bridge"

// DeadLetterSubject is where the bridge parks refused readings: the platform's
// dlq.<consumer-domain>.<product id> for the product it feeds, dlq.quality.quality.raw-readings.v1.
var DeadLetterSubject = stream.RawReadings.DeadLetterSubject(Consumer)

// ProvisionIngest creates or updates the ingest stream and its durable consumer with the
// default timings.
func ProvisionIngest(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return provisionIngest(ctx, js, DefaultIngestTimings)
}

func provisionIngest(ctx context.Context, js jetstream.JetStream, t IngestTimings) (jetstream.Consumer, error) {
	// Replicas start together: another may be creating the same stream and consumer.
	err := dataproduct.Concurrently(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        IngestStream,
			Description: "Device readings (NATS, MQTT) waiting to be forwarded to quality.raw-readings.v1",
			Subjects:    []string{ingest.NATSPrefix + ".>", ingest.MQTTPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      IngestMaxAge,
			Storage:     jetstream.FileStorage,
			Discard:     jetstream.DiscardOld,
			// As many copies as the mesh's product streams (3 on the cluster): a reading the edge
			// acknowledged is stored as durably as the raw reading it becomes.
			Replicas: dataproduct.StreamReplicas(),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline.ProvisionIngest stream %s: %w", IngestStream, err)
	}
	var c jetstream.Consumer
	err = dataproduct.Concurrently(ctx, func(ctx context.Context) (err error) {
		c, err = js.CreateOrUpdateConsumer(ctx, IngestStream, jetstream.ConsumerConfig{
			Durable:       IngestConsumer,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       t.AckWait,
			MaxDeliver:    IngestMaxDeliver,
			MaxAckPending: 4096,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			// One bridge at a time: the server pins the consumer to one client and moves the pin
			// only when that client stops pulling for PinnedTTL, so replicas
			// do not interleave a machine's readings in raw-readings.
			PriorityGroups: []string{bridgeGroup},
			PriorityPolicy: jetstream.PriorityPolicyPinned,
			PinnedTTL:      t.PinnedTTL(),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline.ProvisionIngest consumer %s: %w", IngestConsumer, err)
	}
	return c, nil
}

// Bridge forwards device readings from the ingest stream to quality.raw-readings.v1.
type Bridge struct {
	js  jetstream.JetStream
	pub *dataproduct.Publisher
	reg ingest.Registry
	log *slog.Logger
	cc  jetstream.ConsumeContext
	now func() time.Time
	t   IngestTimings
}

// StartBridge provisions the ingest stream and consumes it with the default timings. pub
// publishes raw-readings events. A reading is acked only once it is stored in raw-readings or
// in the dead-letter stream.
func StartBridge(ctx context.Context, js jetstream.JetStream, pub *dataproduct.Publisher, reg ingest.Registry, log *slog.Logger) (*Bridge, error) {
	return StartBridgeWith(ctx, js, pub, reg, log, DefaultIngestTimings)
}

// StartBridgeWith is StartBridge with timings t (shorter ones for tests).
func StartBridgeWith(ctx context.Context, js jetstream.JetStream, pub *dataproduct.Publisher, reg ingest.Registry, log *slog.Logger, t IngestTimings) (*Bridge, error) {
	c, err := provisionIngest(ctx, js, t)
	if err != nil {
		return nil, err
	}
	b := &Bridge{js: js, pub: pub, reg: reg, log: log, now: time.Now, t: t}
	b.cc, err = c.Consume(b.handle, jetstream.PullMaxMessages(500), jetstream.PullPriorityGroup(bridgeGroup),
		jetstream.PullExpiry(t.PullExpiry))
	if err != nil {
		return nil, fmt.Errorf("pipeline.StartBridge: %w", err)
	}
	return b, nil
}

// Stop drains the consumer: messages already received are still forwarded (or handed back).
// The pin stays until PinnedTTL has passed without a pull; unpinning here could take the pin
// from another replica's bridge in the middle of its batch (the server unpins whoever holds
// it), so a graceful stop costs the stall a crash does.
func (b *Bridge) Stop() {
	b.cc.Drain()
	<-b.cc.Closed()
}

func (b *Bridge) handle(m jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	meta, err := m.Metadata()
	if err != nil {
		b.deadLetter(ctx, m, nil, fmt.Errorf("no metadata: %w", err))
		return
	}
	r, err := ingest.Accept(m.Subject(), m.Data(), b.reg, b.now())
	if err != nil {
		b.deadLetter(ctx, m, meta, err)
		return
	}
	// The id follows the ingest stream sequence: a redelivered reading republished within the
	// duplicate window is dropped by raw-readings.
	id := "ingest-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	if err := b.forward(m, r, id); err != nil {
		if meta.NumDelivered >= IngestMaxDeliver {
			b.deadLetter(ctx, m, meta, err)
			return
		}
		b.log.Warn("forward reading, will retry", "subject", m.Subject(), "err", err)
		if err := m.NakWithDelay(time.Second); err != nil {
			b.log.Warn("nak ingest reading", "err", err)
		}
		return
	}
	if err := m.Ack(); err != nil {
		b.log.Warn("ack ingest reading", "err", err)
	}
}

// forward publishes r, trying again in place while raw-readings refuses it (a NATS node
// down, a stream leader being elected) for up to half of AckWait, the reading kept in
// progress meanwhile. In place, so that the readings after it wait: a nak would let them
// overtake it. The error is the last attempt's, once that time is up.
func (b *Bridge) forward(m jetstream.Msg, r *qualityv1.RawReading, id string) error {
	give := b.now().Add(b.t.AckWait / 2)
	wait := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := Forward(ctx, b.pub, r, dataproduct.WithEventID(id))
		cancel()
		if err == nil || errors.Is(err, nats.ErrConnectionClosed) || !b.now().Add(wait).Before(give) {
			return err
		}
		_ = m.InProgress()
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}

// Forward publishes an accepted reading to raw-readings, keyed by machine id: the machine is
// the pipeline's unit of order (drift and health look across its sensors).
func Forward(ctx context.Context, pub *dataproduct.Publisher, r *qualityv1.RawReading, opts ...dataproduct.PublishOption) error {
	opts = append(opts, dataproduct.WithEventTime(r.GetSampledAt().AsTime()))
	if _, err := pub.Publish(ctx, r.GetMachineId(), r, opts...); err != nil {
		return fmt.Errorf("publish raw reading: %w", err)
	}
	return nil
}

// deadLetter stores the original payload with the reason on DeadLetterSubject, then acks the
// reading; if the dead letter cannot be stored the reading is handed back, so no reading
// disappears silently.
func (b *Bridge) deadLetter(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, cause error) {
	reason := cause.Error()
	var ref *ingest.Refusal
	if !errors.As(cause, &ref) {
		reason = "not forwarded: " + reason
	}
	out := dataproduct.DeadLetter(DeadLetterSubject, IngestConsumer, m, meta, reason)
	if _, err := b.js.PublishMsg(ctx, out); err != nil {
		b.log.Error("dead-letter a refused reading", "subject", m.Subject(), "reason", reason, "err", err)
		if err := m.NakWithDelay(time.Second); err != nil {
			b.log.Warn("nak ingest reading", "err", err)
		}
		return
	}
	if err := m.Ack(); err != nil {
		b.log.Warn("ack dead-lettered reading", "err", err)
	}
}
