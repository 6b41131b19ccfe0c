package readings

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// firedEvent is a fault event, the time of the reading that produced it and that reading's
// sensor.
type firedEvent struct {
	At      int64
	Carrier string
	Event   FaultEvent
}

// silenceRun feeds newMachine's five sensors one reading a minute for ticks ticks, leaving out
// sensor quiet during ticks [from, to), and returns every fault event.
func silenceRun(t *testing.T, m *Machine, now int64, ticks int, quiet string, from, to int) ([]firedEvent, int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 22))
	var out []firedEvent
	for i := range ticks {
		now += 60 * sec
		for _, id := range []string{"t1", "t2", "t3", "v1", "v2"} {
			v := 40 + 0.3*rng.NormFloat64()
			if id[0] == 'v' {
				v = 2 + 0.08*rng.NormFloat64()
			}
			if id == quiet && i >= from && i < to {
				continue
			}
			res, err := m.Process(Reading{Sensor: id, Time: now, Value: v})
			if err != nil {
				t.Fatal(err)
			}
			if res.Fault != nil {
				out = append(out, firedEvent{now, id, *res.Fault})
			}
			for _, ev := range res.Silent {
				out = append(out, firedEvent{now, id, ev})
			}
		}
	}
	return out, now
}

// TestSilentSensorDeclared: a sensor silent for more than SilenceFactor (5) expected
// intervals is declared dropped out at the first reading of another sensor past that point,
// once, and clears after History readings once back; a shorter silence or a disabled factor
// declares nothing.
func TestSilentSensorDeclared(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		quietTicks  int     // ticks t2 leaves out, from tick 10
		factor      float64 // SilenceFactor of t2 (-1: the default)
		wantDeclare bool
	}{
		{"silent 5 intervals: a gap of 6 min", 5, -1, true},
		{"silent 30 intervals", 30, -1, true},
		{"silent 4 intervals: a gap of 5 min is allowed", 4, -1, false},
		{"factor 0 turns it off", 30, 0, false},
		{"factor 10", 9, 10, false},
		{"factor 10, silent 10 intervals", 10, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
			if tt.factor >= 0 {
				m.Sensors["t2"].Filter.Config.SilenceFactor = tt.factor
				m.SilentAfter = 0
			}
			k := m.Sensors["t2"].Filter.Config.SilenceFactor
			last := now + 10*60*sec // t2's last reading before the silence (tick 9)
			events, _ := silenceRun(t, m, now, 10+tt.quietTicks+40, "t2", 10, 10+tt.quietTicks)
			var declared, cleared []firedEvent
			for _, e := range events {
				if e.Event.Sensor != "t2" {
					t.Fatalf("event for %s: %+v", e.Event.Sensor, e)
				}
				if e.Event.Cleared {
					cleared = append(cleared, e)
				} else {
					declared = append(declared, e)
				}
			}
			if !tt.wantDeclare {
				if len(events) != 0 {
					t.Fatalf("events %+v, want none", events)
				}
				return
			}
			if len(declared) != 1 || len(cleared) != 1 {
				t.Fatalf("declared %+v, cleared %+v: want one of each", declared, cleared)
			}
			d := declared[0]
			// The first tick whose time is more than k intervals after the last reading.
			wantAt := last + (int64(k)+1)*60*sec
			if d.At != wantAt || d.Carrier != "t1" || d.Event.Fault != Dropout || d.Event.Since != last || d.Event.Machine != "m1" {
				t.Fatalf("declaration %+v, want dropout of t2 since %d, carried by t1 at %d", d, last, wantAt)
			}
			back := last + int64(tt.quietTicks+1)*60*sec
			if c := cleared[0]; c.Carrier != "t2" || c.Event.Fault != Dropout || c.At != back+History*60*sec {
				t.Fatalf("clearance %+v, want by t2 itself %d readings after its return at %d", c, History, back)
			}
			if m.Status != OK {
				t.Fatalf("health %v (%s) after a silent sensor, want OK", m.Status, m.Reason)
			}
		})
	}
}

// TestSilenceIgnoresSensorsNeverSeenAndFaulty: a registered sensor that never sent is not
// declared, nor is one already faulty (it keeps its own fault).
// TestMachineWideOutageDeclaresNothing: the whole machine goes quiet for 30 minutes (a gateway
// down) and comes back sensor by sensor: no sensor is declared silent, because the first
// readings after the outage end gaps of their own sensors.
func TestMachineWideOutageDeclaresNothing(t *testing.T) {
	t.Parallel()
	m, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
	events, now := silenceRun(t, m, now, 5, "", 0, 0)
	now += 30 * 60 * sec
	after, _ := silenceRun(t, m, now, 30, "", 0, 0)
	for _, e := range append(events, after...) {
		if e.Event.Fault == Dropout && !e.Event.Cleared {
			t.Errorf("%s declared %s dropped out after a machine-wide outage: %+v", e.Carrier, e.Event.Sensor, e.Event)
		}
	}
	// One sensor that stays away after the outage is still declared.
	m, now = newMachine(t, rand.New(rand.NewPCG(3, 4)))
	_, now = silenceRun(t, m, now, 5, "", 0, 0)
	now += 30 * 60 * sec
	after, _ = silenceRun(t, m, now, 30, "t2", 0, 30)
	declared := 0
	for _, e := range after {
		if e.Event.Sensor == "t2" && e.Event.Fault == Dropout && !e.Event.Cleared {
			declared++
		}
	}
	if declared != 1 {
		t.Errorf("t2, still away after the outage, declared %d times, want once: %+v", declared, after)
	}
}

func TestSilenceIgnoresSensorsNeverSeenAndFaulty(t *testing.T) {
	t.Parallel()
	m, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
	m.AddSensor(Spec{ID: "t4", Machine: "m1", Kind: Temperature, Min: -20, Max: 150, Interval: time.Minute}, DefaultConfig(Temperature))
	m.Sensors["t3"].Detector.Faulty, m.Sensors["t3"].Detector.Fault = true, Stuck
	m.SilentAfter = 0
	events, _ := silenceRun(t, m, now, 30, "t3", 0, 30)
	if len(events) != 0 {
		t.Fatalf("events %+v, want none", events)
	}
	if d := m.Sensors["t3"].Detector; d.Fault != Stuck {
		t.Fatalf("t3 detector %+v, want still stuck", d)
	}
}

// TestSilenceSurvivesRestart serialises the machine while a sensor is silent but not yet
// declared and checks the restored machine declares and clears it at the same readings.
func TestSilenceSurvivesRestart(t *testing.T) {
	t.Parallel()
	a, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
	_, now = silenceRun(t, a, now, 3, "t2", 0, 3)
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var b Machine
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	ea, _ := silenceRun(t, a, now, 40, "t2", 0, 10)
	eb, _ := silenceRun(t, &b, now, 40, "t2", 0, 10)
	if len(ea) != 2 || !reflect.DeepEqual(ea, eb) {
		t.Fatalf("restored %+v\nuninterrupted %+v: want the same declaration and clearance", eb, ea)
	}
}
