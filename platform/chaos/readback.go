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

// rawEvents turns raw readings into events keyed by sensor, ordered by the load's sequence
// number, and returns the raw event ids' inputs for the clean readings to point back to.
func rawEvents(evs []stored) ([]Event, map[string]Event, error) {
	out := make([]Event, 0, len(evs))
	byID := make(map[string]Event, len(evs))
	for _, s := range evs {
		var r qualityv1.RawReading
		if err := proto.Unmarshal(s.data, &r); err != nil {
			return nil, nil, fmt.Errorf("chaos: raw reading %s: %w", s.id, err)
		}
		ev := Event{ID: s.id, Key: r.GetSensorId(), Input: inputName(r.GetSensorId(), r.GetDeviceSeq()), Order: int64(r.GetDeviceSeq())}
		out = append(out, ev)
		byID[s.id] = ev
	}
	return out, byID, nil
}

// cleanEvents turns clean readings into events standing for the raw reading they came from
// (source_event_id); a clean reading of an unknown raw event stands for nothing.
func cleanEvents(evs []stored, raw map[string]Event) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, s := range evs {
		var c qualityv1.CleanReading
		if err := proto.Unmarshal(s.data, &c); err != nil {
			return nil, fmt.Errorf("chaos: clean reading %s: %w", s.id, err)
		}
		src := raw[c.GetSourceEventId()]
		out = append(out, Event{ID: s.id, Key: c.GetSensorId(), Input: src.Input, Order: src.Order})
	}
	return out, nil
}

// faultInput names a sensor fault event: declared or cleared, sensor and type.
func faultInput(sensor string, cleared bool, t qualityv1.FaultType) string {
	what := "declared"
	if cleared {
		what = "cleared"
	}
	return what + " " + sensor + " " + t.String()
}

// faultEvents are sensor faults keyed by sensor, in event time (since, or cleared_at).
func faultEvents(evs []stored) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, s := range evs {
		var f qualityv1.SensorFault
		if err := proto.Unmarshal(s.data, &f); err != nil {
			return nil, fmt.Errorf("chaos: sensor fault %s: %w", s.id, err)
		}
		at := f.GetSince().AsTime()
		if f.GetCleared() {
			at = f.GetClearedAt().AsTime()
		}
		out = append(out, Event{ID: s.id, Key: f.GetSensorId(), Input: faultInput(f.GetSensorId(), f.GetCleared(), f.GetFaultType()), Order: at.UnixNano()})
	}
	return out, nil
}

// healthInput names a health change: machine and status.
func healthInput(machine string, s qualityv1.HealthStatus) string { return machine + " " + s.String() }

// healthEvents are health changes keyed by machine, in assessment time.
func healthEvents(evs []stored) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, s := range evs {
		var h qualityv1.MachineHealth
		if err := proto.Unmarshal(s.data, &h); err != nil {
			return nil, fmt.Errorf("chaos: machine health %s: %w", s.id, err)
		}
		out = append(out, Event{ID: s.id, Key: h.GetMachineId(), Input: healthInput(h.GetMachineId(), h.GetStatus()),
			Order: h.GetAssessedAt().AsTime().UnixNano()})
	}
	return out, nil
}

// jobEvents are service job changes keyed by job id, in commit time; a job's opening stands
// for the job (every job in scheduling's store must have one), other changes for nothing
// the load predicts.
func jobEvents(evs []stored) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, s := range evs {
		var c schedulingv1.ServiceJobChanged
		if err := proto.Unmarshal(s.data, &c); err != nil {
			return nil, fmt.Errorf("chaos: service job change %s: %w", s.id, err)
		}
		ev := Event{ID: s.id, Key: c.GetJob().GetId(), Order: c.GetOccurredAt().AsTime().UnixNano()}
		if c.GetPreviousState() == schedulingv1.JobState_JOB_STATE_UNSPECIFIED {
			ev.Input = "opened " + c.GetJob().GetId()
		}
		out = append(out, ev)
	}
	return out, nil
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
