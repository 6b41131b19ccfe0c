package readings

import (
	"math"
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

// TestFaultDuringAChangeKeepsItsEvidence: a sensor the CUSUM has raised (WARN) and that is
// then declared faulty (noise) does not take its change with it: while its data (the window's
// median) still show the change, the machine is ANOMALOUS_UNCONFIRMED naming the sensor and the
// change, never OK (what it was, found on NAB: the open incident cancelled at the declaration
// and raised again at the clearance); once the fault clears the sensor's WARN speaks again.
// When its data come back to the level before the change while it is faulty, the change is
// over: OK. Judged on its own value (one sensor) and against its load (a current sensor).
func TestFaultDuringAChangeKeepsItsEvidence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		load bool
		back bool // the level returns while the sensor is noisy
	}{
		{"on its own", false, false}, {"against its load", true, false},
		{"on its own, level back during the fault", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// With a load the plant steps between rest and run; without, one sensor at 40 °C.
			sensors := map[string]Kind{"t1": Temperature}
			if tc.load {
				sensors["c1"] = Current
			}
			p := newPlant(31, sensors)
			i, shift := 0, 0.0
			step := func(noise float64) {
				extra := shift + noise*p.rng.NormFloat64()
				if tc.load {
					p.step(t, i, map[string]float64{"t1": extra})
				} else if _, err := p.m.Process(Reading{Sensor: "t1", Time: int64(i+1) * int64(time.Minute),
					Value: 40 + 0.3*p.rng.NormFloat64() + extra}); err != nil {
					t.Fatal(err)
				}
				i++
			}
			for range 2 * 1440 {
				step(0)
			}
			if p.m.Status != OK {
				t.Fatalf("%v (%q) before the change", p.m.Status, p.m.Reason)
			}
			from, to, word := 0.0, 4.0, "rose +"
			if !tc.load {
				// On its own, the series first settles at a new level, its new normal, and the
				// change is a drop back to where it started: the normal learnt at the start (the
				// shadow's) sees nothing there; the CUSUM saw a drop.
				shift = 4
				for range 600 {
					step(0)
				}
				if p.m.Status != OK {
					t.Fatalf("%v (%q) 600 readings at a new level, want it taken for normal", p.m.Status, p.m.Reason)
				}
				from, to, word = 4, 0, "dropped -"
			}
			for math.Abs(shift-to) > 1e-9 {
				shift += (to - from) / 120 // over two hours
				if (to-from)*(shift-to) > 0 {
					shift = to
				}
				step(0)
			}
			for range 400 {
				if p.m.Status == Warn {
					break
				}
				step(0)
			}
			if p.m.Status != Warn {
				t.Fatalf("%v (%q) after a change of 4, want WARN", p.m.Status, p.m.Reason)
			}
			var seen []Status
			for n := range 150 {
				if tc.back && n == 60 {
					shift = from
				}
				step(2.5) // noisy: about 8 times its normal noise
				if len(seen) == 0 || seen[len(seen)-1] != p.m.Status {
					seen = append(seen, p.m.Status)
				}
			}
			if !p.m.Sensors["t1"].Detector.Faulty {
				t.Fatalf("t1 not declared faulty: the scenario does not test what it says (statuses %v)", seen)
			}
			if tc.back {
				if p.m.Status != OK {
					t.Fatalf("%v (%q; statuses %v), want OK once the noisy data are back at the level before the change", p.m.Status, p.m.Reason, seen)
				}
				return
			}
			if p.m.Status != Unconfirmed || !strings.Contains(p.m.Reason, "temperature t1 declared faulty (noise)") || !strings.Contains(p.m.Reason, word) {
				t.Fatalf("%v (%q; statuses %v), want ANOMALOUS_UNCONFIRMED naming the change", p.m.Status, p.m.Reason, seen)
			}
			for _, s := range seen {
				if s == OK {
					t.Fatalf("statuses %v: OK while the faulty sensor's data still show the change", seen)
				}
			}
			for range 60 {
				step(0)
				if p.m.Status == OK {
					t.Fatalf("OK (%q) after the noise ended, the level still raised", p.m.Reason)
				}
			}
			if p.m.Sensors["t1"].Detector.Faulty || p.m.Status != Warn {
				t.Fatalf("%v (%q), faulty %v, 60 clean readings after the noise: want the sensor's WARN back", p.m.Status, p.m.Reason, p.m.Sensors["t1"].Detector.Faulty)
			}
		})
	}
}
