package main

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
)

// TestFaultDuringAChangeReachesHealth is readings.TestFaultDuringAChangeKeepsItsEvidence
// through the service: a lone temperature sensor settles at a new level, drops back (WARN),
// then turns noisy and is declared faulty while its data still show the drop. Sent over gRPC,
// read back from quality.machine-health.v1 and quality.sensor-faults.v1 and GetMachineHealth:
// the machine goes WARN → ANOMALOUS_UNCONFIRMED naming the fault and the change → WARN once
// the fault clears, never OK in between (what it was, found on NAB: the incident cancelled at
// the declaration and raised again at the clearance).
func TestFaultDuringAChangeReachesHealth(t *testing.T) {
	t.Parallel()
	const machine, sensor = "oven-1", "oven-1-t1"
	values, plan, dropAt := dropThenNoise(t)
	q := start(t)
	q.register(t, machine, sensor)
	st, err := q.client.IngestReadings(q.as(t, "service"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Duration(len(values)+60) * time.Minute).Truncate(time.Minute)
	for i, v := range values {
		if err := st.Send(&qualityv1.IngestReadingsRequest{MachineId: machine, SensorId: sensor,
			SampledAt: timestamppb.New(t0.Add(time.Duration(i) * time.Minute)), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if int(resp.GetAccepted()) != len(values) {
		t.Fatalf("accepted %d of %d readings: %v", resp.GetAccepted(), len(values), resp.GetRefusals())
	}

	// Every reading's clean reading, then the health events: published before (or with) them.
	clean := 0
	read(t, q, stream.CleanReadings.StreamName(), waitLimit, func(jetstream.Msg) bool {
		clean++
		return clean == len(values)
	})
	var health []*qualityv1.MachineHealth
	read(t, q, stream.MachineHealth.StreamName(), 0, func(m jetstream.Msg) bool {
		var h qualityv1.MachineHealth
		if err := proto.Unmarshal(m.Data(), &h); err != nil {
			t.Fatal(err)
		}
		health = append(health, &h)
		return false
	})
	// The service's events are the plan's (the same kernel on the same readings), and from the
	// drop on they are WARN, ANOMALOUS_UNCONFIRMED, WARN.
	var seen, after []string
	for _, h := range health {
		i := int(h.GetAssessedAt().AsTime().Sub(t0) / time.Minute)
		seen = append(seen, fmt.Sprintf("%s at %d", h.GetStatus(), i))
		if i >= dropAt {
			after = append(after, h.GetStatus().String())
		}
	}
	if !slices.Equal(seen, plan) {
		t.Fatalf("health events %v, the plan's on readings.Machine %v", seen, plan)
	}
	want := []string{"HEALTH_STATUS_WARN", "HEALTH_STATUS_ANOMALOUS_UNCONFIRMED", "HEALTH_STATUS_WARN"}
	if !slices.Equal(after, want) {
		t.Fatalf("health events from the drop on %v, want %v: no OK between the change and the fault's clearance", after, want)
	}
	un := health[len(health)-2]
	if r := un.GetReason(); !strings.Contains(r, "temperature "+sensor+" declared faulty (noise)") || !strings.Contains(r, "dropped -") {
		t.Errorf("ANOMALOUS_UNCONFIRMED reason %q, want it to name the noise fault and the drop", r)
	}
	if !slices.Equal(un.GetEvidenceSensorIds(), []string{sensor}) {
		t.Errorf("ANOMALOUS_UNCONFIRMED evidence %v, want [%s]", un.GetEvidenceSensorIds(), sensor)
	}

	// The fault itself: declared noise, then cleared.
	var faults []*qualityv1.SensorFault
	read(t, q, stream.SensorFaults.StreamName(), 0, func(m jetstream.Msg) bool {
		var f qualityv1.SensorFault
		if err := proto.Unmarshal(m.Data(), &f); err != nil {
			t.Fatal(err)
		}
		faults = append(faults, &f)
		return false
	})
	if len(faults) != 2 || faults[0].GetFaultType() != qualityv1.FaultType_FAULT_TYPE_NOISE || faults[0].GetCleared() {
		t.Fatalf("sensor faults %v, want a noise declaration and its clearance", faults)
	}

	// GetMachineHealth reads the committed state, which may trail the events by one batch.
	deadline := time.Now().Add(waitLimit)
	for {
		h, err := q.client.GetMachineHealth(q.as(t, "analyst"), &qualityv1.GetMachineHealthRequest{MachineId: machine})
		if err != nil {
			t.Fatal(err)
		}
		if h.GetHealth().GetStatus() == qualityv1.HealthStatus_HEALTH_STATUS_WARN {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetMachineHealth %v, want WARN", h.GetHealth())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// read hands each message of the stream to f until f says it has seen enough, waiting up to
// wait for each; with wait 0, until the stream has no more (3 s without one: the events of a
// batch are published together, and the streams store them a moment apart).
func read(t *testing.T, q *qualityUnderTest, name string, wait time.Duration, f func(jetstream.Msg) bool) {
	t.Helper()
	cons, err := q.js.OrderedConsumer(q.ctx, name, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(cmp.Or(wait, 3*time.Second)))
		if wait == 0 && errors.Is(err, nats.ErrTimeout) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f(m) {
			return
		}
	}
}

// dropThenNoise is the scenario's readings, one a minute, planned on a readings.Machine with the
// service's defaults for a temperature sensor (the kernel the service runs; this machine only
// decides the phases' lengths and checks the sensor is declared faulty and cleared; what health
// says is for the test to judge, on the service's events): two days at 40 °C,
// ten hours at 44 °C (its new normal), two hours back down to 40 °C until WARN, 150 noisy
// readings (about 8 times the normal noise, declared faulty), 60 clean ones. It returns the
// values, the plan's health events ("<contract status> at <reading index>") and the index of
// the drop's first reading.
func dropThenNoise(t *testing.T) ([]float64, []string, int) {
	t.Helper()
	m := readings.NewMachine("plan", readings.DefaultHealth)
	m.AddSensor(readings.Spec{ID: "t1", Machine: "plan", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute},
		readings.DefaultConfig(readings.Temperature))
	rng := rand.New(rand.NewPCG(31, 17))
	var values []float64
	var events []string
	shift := 0.0
	step := func(noise float64) {
		v := 40 + 0.3*rng.NormFloat64() + shift + noise*rng.NormFloat64()
		values = append(values, v)
		res, err := m.Process(readings.Reading{Sensor: "t1", Time: int64(len(values)) * int64(time.Minute), Value: v})
		if err != nil {
			t.Fatal(err)
		}
		if h := res.Health; h != nil {
			events = append(events, fmt.Sprintf("%s at %d", pipeline.HealthEvent(h).GetStatus(), len(values)-1))
		}
	}
	for range 2 * 1440 {
		step(0)
	}
	for shift = 4; len(values) < 2*1440+600; {
		step(0)
	}
	dropAt := len(values)
	for shift > 0 {
		shift = max(0, shift-4.0/120)
		step(0)
	}
	for range 400 {
		if m.Status == readings.Warn {
			break
		}
		step(0)
	}
	if m.Status != readings.Warn {
		t.Fatalf("plan: %v (%q) after the drop, want WARN", m.Status, m.Reason)
	}
	for range 150 {
		step(2.5)
	}
	if !m.Sensors["t1"].Detector.Faulty {
		t.Fatal("plan: the noisy sensor is not declared faulty")
	}
	for range 60 {
		step(0)
	}
	if m.Sensors["t1"].Detector.Faulty {
		t.Fatal("plan: the sensor's fault did not clear")
	}
	return values, events, dropAt
}
