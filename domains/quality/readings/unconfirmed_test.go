package readings

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// pair is a machine with one temperature sensor t1 and one vibration sensor v1 (so no peers:
// drift against peers is off), calibrated on 300 normal readings each.
func pair(t *testing.T, seed uint64) (*Machine, *rand.Rand, int64) {
	t.Helper()
	m := NewMachine("m1", HealthConfig{Calibration: 200, Smoothing: 10, Raise: 4, Lower: 2.5})
	m.AddSensor(tempSpec(), DefaultConfig(Temperature))
	m.AddSensor(Spec{ID: "v1", Machine: "m1", Kind: Vibration, Min: 0, Max: 50, Interval: time.Minute}, DefaultConfig(Vibration))
	rng := rand.New(rand.NewPCG(seed, 11))
	now := int64(0)
	for range 300 {
		now = feedPair(t, m, now, 40+0.3*rng.NormFloat64(), 2+0.08*rng.NormFloat64())
	}
	if m.Status != OK {
		t.Fatalf("status %v after normal data, want OK", m.Status)
	}
	return m, rng, now
}

func feedPair(t *testing.T, m *Machine, now int64, temp, vib float64) int64 {
	t.Helper()
	now += 60 * sec
	for _, r := range []Reading{{Sensor: "t1", Time: now, Value: temp}, {Sensor: "v1", Time: now, Value: vib}} {
		if _, err := m.Process(r); err != nil {
			t.Fatal(err)
		}
	}
	return now
}

// signal is what a sensor sends at reading i of a scenario: its normal level plus shift, with
// noise times its normal noise; stuck sends exactly at instead.
type signal struct {
	shift, noise float64
	stuck        bool
	at           float64
}

func (s signal) value(rng *rand.Rand, level, sd float64) float64 {
	if s.stuck {
		return s.at
	}
	n := s.noise
	if n == 0 {
		n = 1
	}
	return level + s.shift + n*sd*rng.NormFloat64()
}

// TestFailedSensorNeverHidesAChange: a sensor declared faulty no longer takes its evidence out
// of the health assessment. Its own data showing a sustained change (rise or drop, whatever the
// fault), or a change of the other kind while it is faulty, makes the machine ANOMALOUS,
// UNCONFIRMED with a reason naming the sensor, its fault and what was seen — never OK (as
// before, when a faulty sensor was simply left out) and never CRITICAL on a faulty sensor's word.
func TestFailedSensorNeverHidesAChange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		temp     signal
		vib      signal
		fault    string // the sensor that must be declared faulty
		evidence []string
		reason   []string
	}{
		{"noisy temperature sensor dropping", signal{shift: -4, noise: 6}, signal{}, "t1",
			[]string{"t1"}, []string{"temperature t1 declared faulty (noise)", "dropped -"}},
		{"noisy temperature sensor rising", signal{shift: 4, noise: 6}, signal{}, "t1",
			[]string{"t1"}, []string{"temperature t1 declared faulty (noise)", "rose +"}},
		{"temperature sensor stuck low", signal{stuck: true, at: 36}, signal{}, "t1",
			[]string{"t1"}, []string{"temperature t1 declared faulty (stuck)", "dropped -"}},
		{"temperature sensor stuck high", signal{stuck: true, at: 44}, signal{}, "t1",
			[]string{"t1"}, []string{"temperature t1 declared faulty (stuck)", "rose +"}},
		{"temperature rises, its vibration corroborator stuck", signal{shift: 3}, signal{stuck: true, at: 2}, "v1",
			[]string{"t1", "v1"}, []string{"temperature t1 rose +", "no vibration sensor to corroborate it: v1 (stuck) declared faulty"}},
		{"temperature drops, its vibration corroborator stuck", signal{shift: -3}, signal{stuck: true, at: 2}, "v1",
			[]string{"t1", "v1"}, []string{"temperature t1 dropped -", "v1 (stuck) declared faulty"}},
		{"vibration and temperature rise, vibration noisy", signal{shift: 3}, signal{shift: 1, noise: 6}, "v1",
			[]string{"t1", "v1"}, []string{"vibration v1 declared faulty (noise) but its data rose +", "temperature t1 rose +"}},
		{"vibration and temperature drop, vibration noisy", signal{shift: -3}, signal{shift: -1, noise: 6}, "v1",
			[]string{"t1", "v1"}, []string{"vibration v1 declared faulty (noise) but its data dropped -", "temperature t1 dropped -"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, rng, now := pair(t, 21)
			var seen []Status
			for i := range 200 {
				r := min(1, float64(i)/30) // the change builds up over half an hour
				temp, vib := c.temp, c.vib
				temp.shift, vib.shift = r*temp.shift, r*vib.shift
				now = feedPair(t, m, now, temp.value(rng, 40, 0.3), vib.value(rng, 2, 0.08))
				if len(seen) == 0 || seen[len(seen)-1] != m.Status {
					seen = append(seen, m.Status)
				}
				if m.Status == Critical && m.Sensors[c.fault].Detector.Faulty {
					t.Fatalf("reading %d: CRITICAL on a faulty sensor's word (%q)", i, m.Reason)
				}
			}
			if !m.Sensors[c.fault].Detector.Faulty {
				t.Fatalf("%s not declared faulty: the scenario does not test what it says", c.fault)
			}
			if m.Status != Unconfirmed {
				t.Fatalf("status %v (%q; statuses %v), want ANOMALOUS_UNCONFIRMED", m.Status, m.Reason, seen)
			}
			for _, want := range c.reason {
				if !strings.Contains(m.Reason, want) {
					t.Errorf("reason %q, want it to name %q", m.Reason, want)
				}
			}
			if strings.Join(m.Evidence, ",") != strings.Join(c.evidence, ",") {
				t.Errorf("evidence %v, want %v", m.Evidence, c.evidence)
			}
		})
	}
}

// TestFaultWithoutChangeStaysOK: a sensor declared faulty whose data shows no sustained change
// (noisy, or stuck, at its normal level) is a fault, not a failure: health stays OK, and
// recovers from ANOMALOUS_UNCONFIRMED once the faulty sensor's level is back.
func TestFaultWithoutChangeStaysOK(t *testing.T) {
	t.Parallel()
	for _, temp := range []signal{{noise: 6}, {stuck: true, at: 40}} {
		m, rng, now := pair(t, 22)
		for range 200 {
			now = feedPair(t, m, now, temp.value(rng, 40, 0.3), 2+0.08*rng.NormFloat64())
			if m.Status != OK {
				t.Fatalf("%+v: status %v (%q), want OK: a fault at the normal level is no failure", temp, m.Status, m.Reason)
			}
		}
		if !m.Sensors["t1"].Detector.Faulty {
			t.Fatalf("%+v: t1 not declared faulty", temp)
		}
	}
	m, rng, now := pair(t, 23)
	for range 100 {
		now = feedPair(t, m, now, 40-4+6*0.3*rng.NormFloat64(), 2+0.08*rng.NormFloat64())
	}
	if m.Status != Unconfirmed {
		t.Fatalf("status %v after a noisy drop, want ANOMALOUS_UNCONFIRMED", m.Status)
	}
	for range 100 {
		now = feedPair(t, m, now, 40+6*0.3*rng.NormFloat64(), 2+0.08*rng.NormFloat64())
	}
	if m.Status != OK {
		t.Fatalf("status %v (%q) once the noisy sensor's level is back, want OK", m.Status, m.Reason)
	}
}
