package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/platform/dataproduct"
)

// stored is one stored event: its id and payload.
type stored struct {
	id   string
	data []byte
}

// readStream reads every event of product on the given keys (all keys when none), in stream
// order, with an ordered consumer. A failed read is tried again from the start, 10 times at
// most: right after a fault the cluster may still be electing a leader.
func readStream(ctx context.Context, js jetstream.JetStream, product string, keys []string) ([]stored, error) {
	var err error
	for range 10 {
		var out []stored
		if out, err = readStreamOnce(ctx, js, product, keys); err == nil {
			return out, nil
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, err
		}
	}
	return nil, err
}

func readStreamOnce(ctx context.Context, js jetstream.JetStream, product string, keys []string) ([]stored, error) {
	var subjects []string
	for _, k := range keys {
		subjects = append(subjects, "dp."+product+"."+k)
	}
	if len(subjects) == 0 {
		subjects = []string{"dp." + product + ".>"}
	}
	stream := dataproduct.StreamNameOf(product)
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
	if err != nil {
		return nil, fmt.Errorf("chaos: read %s: ordered consumer: %w", stream, err)
	}
	var out []stored
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, fmt.Errorf("chaos: read %s: fetch: %w", stream, err)
		}
		n := 0
		for msg := range batch.Messages() {
			out = append(out, stored{id: msg.Headers().Get(dataproduct.HeaderID), data: msg.Data()})
			n++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("chaos: read %s: %w", stream, err)
		}
		if n > 0 {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("chaos: read %s: consumer info: %w", stream, err)
		}
		if info.NumPending == 0 {
			return out, nil
		}
	}
}

// decodeEach decodes every stored event's payload as an M and turns it into an Event with
// event; what names the payload in errors.
func decodeEach[M any, PM interface {
	*M
	proto.Message
}](evs []stored, what string, event func(id string, m PM) Event) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, s := range evs {
		m := PM(new(M))
		if err := proto.Unmarshal(s.data, m); err != nil {
			return nil, fmt.Errorf("chaos: %s %s: %w", what, s.id, err)
		}
		out = append(out, event(s.id, m))
	}
	return out, nil
}

// rawEvent is a raw reading keyed by sensor, standing for the load's reading of that sensor
// and sequence number (device_seq), ordered by it.
func rawEvent(id string, r *qualityv1.RawReading) Event {
	return Event{ID: id, Key: r.GetSensorId(), Input: inputName(r.GetSensorId(), r.GetDeviceSeq()), Order: int64(r.GetDeviceSeq())}
}

// cleanEvent makes clean readings stand for the raw reading they came from
// (source_event_id, looked up in raw); one of an unknown raw event stands for nothing.
func cleanEvent(raw map[string]Event) func(string, *qualityv1.CleanReading) Event {
	return func(id string, c *qualityv1.CleanReading) Event {
		src := raw[c.GetSourceEventId()]
		return Event{ID: id, Key: c.GetSensorId(), Input: src.Input, Order: src.Order}
	}
}

// faultInput names a sensor fault event: declared or cleared, sensor and type.
func faultInput(sensor string, cleared bool, t qualityv1.FaultType) string {
	what := "declared"
	if cleared {
		what = "cleared"
	}
	return what + " " + sensor + " " + t.String()
}

// faultEvent is a sensor fault keyed by sensor, in event time (since, or cleared_at).
func faultEvent(id string, f *qualityv1.SensorFault) Event {
	at := f.GetSince().AsTime()
	if f.GetCleared() {
		at = f.GetClearedAt().AsTime()
	}
	return Event{ID: id, Key: f.GetSensorId(), Input: faultInput(f.GetSensorId(), f.GetCleared(), f.GetFaultType()), Order: at.UnixNano()}
}

// healthInput names a health change: machine and status.
func healthInput(machine string, s qualityv1.HealthStatus) string { return machine + " " + s.String() }

// healthEvent is a health change keyed by machine, in assessment time.
func healthEvent(id string, h *qualityv1.MachineHealth) Event {
	return Event{ID: id, Key: h.GetMachineId(), Input: healthInput(h.GetMachineId(), h.GetStatus()),
		Order: h.GetAssessedAt().AsTime().UnixNano()}
}

// jobEvent is a service job change keyed by job id, in commit time; a job's opening stands
// for the job (every job in scheduling's store must have one), other changes for nothing
// the load predicts.
func jobEvent(id string, c *schedulingv1.ServiceJobChanged) Event {
	ev := Event{ID: id, Key: c.GetJob().GetId(), Order: c.GetOccurredAt().AsTime().UnixNano()}
	if c.GetPreviousState() == schedulingv1.JobState_JOB_STATE_UNSPECIFIED {
		ev.Input = "opened " + c.GetJob().GetId()
	}
	return ev
}

// redelivered sums, over the durable consumers of stream, the deliveries beyond the first
// of each message: consumer sequence (every delivery) minus stream sequence (the last message
// delivered). Exact for a durable over the whole stream from its first message; the mesh is
// new, so its streams start at 1.
func redelivered(ctx context.Context, js jetstream.JetStream, stream string) (int, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	total := 0
	for info := range s.ListConsumers(ctx).Info() {
		if info.Config.Durable == "" {
			continue
		}
		if n := int(info.Delivered.Consumer) - int(info.Delivered.Stream); n > 0 {
			total += n
		}
	}
	return total, nil
}

// jobRow is one job in scheduling's store.
type jobRow struct {
	id, machine, sensor string
	kind                int
}

// schedulingStore reads scheduling's jobs and counts the double bookings: pairs of one
// engineer's assignments whose times overlap.
func schedulingStore(ctx context.Context, url string) ([]jobRow, int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, 0, fmt.Errorf("chaos: scheduling's Postgres: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id::text, machine_id, sensor_id, kind FROM jobs ORDER BY created_at, id`)
	if err != nil {
		return nil, 0, fmt.Errorf("chaos: scheduling jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (jobRow, error) {
		var j jobRow
		err := r.Scan(&j.id, &j.machine, &j.sensor, &j.kind)
		return j, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("chaos: scheduling jobs: %w", err)
	}
	var doubles int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM assignments a JOIN assignments b
		ON a.engineer_id = b.engineer_id AND a.job_id < b.job_id
		AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)`).Scan(&doubles)
	if err != nil {
		return nil, 0, fmt.Errorf("chaos: scheduling double bookings: %w", err)
	}
	return jobs, doubles, nil
}
