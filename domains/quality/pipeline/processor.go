package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
)

// Specs looks up a registered sensor.
type Specs interface {
	Spec(machine, sensor string) (readings.Spec, bool)
}

// Step runs one raw reading through a machine's filter state and returns the messages it
// produces: always a clean reading, sometimes a sensor fault and a health change.
type Step func(m *readings.Machine) ([]*nats.Msg, error)

// State keeps the machines' filter state and delivers the messages of a step. Apply must run
// step on the state of machine and make the new state and the messages durable together, and
// must skip an event it already applied (eventID).
type State interface {
	Apply(ctx context.Context, machine, eventID string, step Step) error
}

// Processor runs the readings filters on raw readings, one machine's readings through one
// readings.Machine.
type Processor struct {
	specs Specs
	state State
	// clean, faults and health build the derived events; err is why they could not be made.
	clean, faults, health *dataproduct.Builder
	err                   error
}

// NewProcessor returns a processor over state.
func NewProcessor(specs Specs, state State) *Processor {
	p := &Processor{specs: specs, state: state}
	var errC, errF, errH error
	p.clean, errC = dataproduct.NewBuilder(stream.CleanReadings)
	p.faults, errF = dataproduct.NewBuilder(stream.SensorFaults)
	p.health, errH = dataproduct.NewBuilder(stream.MachineHealth)
	p.err = errors.Join(errC, errF, errH)
	return p
}

// Consumer is the processor's consumer domain.
const Consumer = "quality"

// ConsumerConfig is how a single processor consumes raw-readings unpartitioned: one durable for
// the domain, one handler at a time, so readings are filtered in stream order (the filters are
// order-sensitive, and drift and health look across a machine's sensors). A redelivery can
// break the order only after a failed handler, which changed nothing. Replicas share the
// durable and so split the readings by message: with more than one, use PartitionConfig.
func ConsumerConfig() dataproduct.ConsumerConfig {
	return dataproduct.ConsumerConfig{ConsumerDomain: Consumer, Concurrency: 1, MaxAckPending: 1000}
}

// DefaultPartitions is the number of partitions of raw-readings unless QUALITY_PARTITIONS
// says otherwise: more than the replicas a deployment runs, so each gets several and a
// departing replica's load spreads over the others.
const DefaultPartitions = 8

// PartitionConfig is how replicas consume raw-readings in n partitions (platform/partition):
// by the subject key, the machine id, so every reading of a machine lands in one partition,
// owned by one replica at a time, handled one batch at a time in stream order. A machine's
// filter state therefore has one writer, and moves with its partition.
func PartitionConfig(n int) partition.Config {
	return partition.Config{ConsumerDomain: Consumer, Partitions: n, Batch: PartitionBatch}
}

// PartitionBatch is the most readings of one partition fetched and applied together.
const PartitionBatch = 500

// Subscribe starts consuming raw-readings.
func (p *Processor) Subscribe(ctx context.Context, js jetstream.JetStream) (*dataproduct.Subscription, error) {
	return dataproduct.Subscribe(ctx, js, stream.RawReadings, ConsumerConfig(), dataproduct.Handle(p.Handle))
}

// Handle filters one raw reading through the state.
func (p *Processor) Handle(ctx context.Context, ev *dataproduct.Event, r *qualityv1.RawReading) error {
	if _, ok := p.specs.Spec(r.GetMachineId(), r.GetSensorId()); !ok {
		return dataproduct.Permanent(fmt.Errorf("pipeline: unknown sensor %s on machine %s", r.GetSensorId(), r.GetMachineId()))
	}
	return p.state.Apply(ctx, r.GetMachineId(), ev.ID, p.Step(ctx, ev.ID, r))
}

// Known reports whether the reading's sensor is registered.
func (p *Processor) Known(r *qualityv1.RawReading) bool {
	_, ok := p.specs.Spec(r.GetMachineId(), r.GetSensorId())
	return ok
}

// Step is the filtering of raw reading r (event id) as a Step for a State.
func (p *Processor) Step(ctx context.Context, id string, r *qualityv1.RawReading) Step {
	return func(m *readings.Machine) ([]*nats.Msg, error) { return p.step(ctx, m, id, r) }
}

// step derives the messages of one reading. Derived event ids are the raw event id plus a
// suffix (-clean, -fault, -silent-<sensor> for a silent sensor of the machine declared
// dropped out at this reading, -health), so a re-run republishes the same ids and the
// duplicate windows drop the copies.
func (p *Processor) step(ctx context.Context, m *readings.Machine, id string, r *qualityv1.RawReading) ([]*nats.Msg, error) {
	const op = "pipeline.step"
	if _, ok := m.Sensors[r.GetSensorId()]; !ok {
		spec, _ := p.specs.Spec(r.GetMachineId(), r.GetSensorId())
		m.AddSensor(spec, readings.DefaultConfig(spec.Kind))
	}
	if p.err != nil {
		return nil, fmt.Errorf("%s: %w", op, p.err)
	}
	t := r.GetSampledAt().AsTime()
	res, err := m.Process(readings.Reading{Sensor: r.GetSensorId(), Time: t.UnixNano(), Value: r.GetValue()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	clean := &qualityv1.CleanReading{MachineId: r.GetMachineId(), SensorId: r.GetSensorId(), SampledAt: r.GetSampledAt(),
		RawValue: r.GetValue(), Value: res.Value, Flags: Flags(res.Flags), SensorFaulty: res.Faulty, SourceEventId: id}
	msg, err := p.clean.Message(ctx, r.GetSensorId(), clean,
		dataproduct.WithEventID(id+"-clean"), dataproduct.WithEventTime(t))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := []*nats.Msg{msg}
	if f := res.Fault; f != nil {
		msg, err := p.faults.Message(ctx, f.Sensor, FaultEvent(f),
			dataproduct.WithEventID(id+"-fault"), dataproduct.WithEventTime(t))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, msg)
	}
	// A silent sensor's declaration rides on another sensor's reading: its id names both.
	for i := range res.Silent {
		f := &res.Silent[i]
		msg, err := p.faults.Message(ctx, f.Sensor, FaultEvent(f),
			dataproduct.WithEventID(id+"-silent-"+f.Sensor), dataproduct.WithEventTime(t))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, msg)
	}
	if h := res.Health; h != nil {
		msg, err := p.health.Message(ctx, h.Machine, HealthEvent(h),
			dataproduct.WithEventID(id+"-health"), dataproduct.WithEventTime(t))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, msg)
	}
	return out, nil
}

// Memory is filter state in memory, publishing straight to JetStream: for tests and the
// simulator's dry runs. A restart loses it (the postgres package keeps it durably).
type Memory struct {
	js       jetstream.JetStream
	mu       sync.Mutex
	machines map[string]*readings.Machine
}

// NewMemory returns empty in-memory state publishing over js.
func NewMemory(js jetstream.JetStream) *Memory {
	return &Memory{js: js, machines: map[string]*readings.Machine{}}
}

// Apply runs step and publishes its messages.
func (s *Memory) Apply(ctx context.Context, machine, _ string, step Step) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.machines[machine]
	if m == nil {
		m = readings.NewMachine(machine, readings.DefaultHealth)
		s.machines[machine] = m
	}
	msgs, err := step(m)
	if err != nil {
		return err
	}
	for _, msg := range msgs {
		if _, err := s.js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("pipeline.Memory.Apply: %w", err)
		}
	}
	return nil
}

var flagEnum = map[readings.Flag]qualityv1.ReadingFlag{
	readings.OutOfRange:   qualityv1.ReadingFlag_READING_FLAG_OUT_OF_RANGE,
	readings.Spike:        qualityv1.ReadingFlag_READING_FLAG_SPIKE,
	readings.Stuck:        qualityv1.ReadingFlag_READING_FLAG_STUCK,
	readings.Dropout:      qualityv1.ReadingFlag_READING_FLAG_DROPOUT,
	readings.RateOfChange: qualityv1.ReadingFlag_READING_FLAG_RATE_OF_CHANGE,
	readings.Drift:        qualityv1.ReadingFlag_READING_FLAG_DRIFT,
	readings.Noise:        qualityv1.ReadingFlag_READING_FLAG_NOISE,
}

var faultEnum = map[readings.Flag]qualityv1.FaultType{
	readings.OutOfRange:   qualityv1.FaultType_FAULT_TYPE_OUT_OF_RANGE,
	readings.Spike:        qualityv1.FaultType_FAULT_TYPE_SPIKES,
	readings.Stuck:        qualityv1.FaultType_FAULT_TYPE_STUCK,
	readings.Dropout:      qualityv1.FaultType_FAULT_TYPE_DROPOUT,
	readings.RateOfChange: qualityv1.FaultType_FAULT_TYPE_RATE_OF_CHANGE,
	readings.Drift:        qualityv1.FaultType_FAULT_TYPE_DRIFT,
	readings.Noise:        qualityv1.FaultType_FAULT_TYPE_NOISE,
}

var healthEnum = map[readings.Status]qualityv1.HealthStatus{
	readings.OK: qualityv1.HealthStatus_HEALTH_STATUS_OK, readings.Warn: qualityv1.HealthStatus_HEALTH_STATUS_WARN,
	readings.Critical:    qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL,
	readings.Unconfirmed: qualityv1.HealthStatus_HEALTH_STATUS_ANOMALOUS_UNCONFIRMED,
}

// Flags maps a flag set to the contract's enum values.
func Flags(f readings.Flag) []qualityv1.ReadingFlag {
	var out []qualityv1.ReadingFlag
	for _, g := range readings.AllFlags {
		if f&g != 0 {
			out = append(out, flagEnum[g])
		}
	}
	return out
}

// FaultEvent maps a fault declaration or clearance to its event.
func FaultEvent(f *readings.FaultEvent) *qualityv1.SensorFault {
	out := &qualityv1.SensorFault{MachineId: f.Machine, SensorId: f.Sensor, FaultType: faultEnum[f.Fault],
		Since: timestamppb.New(time.Unix(0, f.Since)), Evidence: f.Evidence, Cleared: f.Cleared}
	if f.Cleared {
		out.ClearedAt = timestamppb.New(time.Unix(0, f.ClearedAt))
	}
	return out
}

// HealthEvent maps a health change to its event.
func HealthEvent(h *readings.HealthEvent) *qualityv1.MachineHealth {
	return &qualityv1.MachineHealth{MachineId: h.Machine, Status: healthEnum[h.Status], Reason: h.Reason,
		EvidenceSensorIds: h.Sensors, AssessedAt: timestamppb.New(time.Unix(0, h.Time))}
}
