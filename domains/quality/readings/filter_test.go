package readings

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

const sec = int64(time.Second)

func tempSpec() Spec {
	return Spec{ID: "t1", Machine: "m1", Kind: Temperature, Min: -20, Max: 150, Interval: time.Minute}
}

// feed pushes n noisy readings around level, one a minute from t0, and returns the next time.
func feed(f *Filter, rng *rand.Rand, t0 int64, n int, level float64) int64 {
	for i := range n {
		f.Check(Reading{Sensor: f.Spec.ID, Time: t0 + int64(i)*60*sec, Value: level + 0.3*rng.NormFloat64()})
	}
	return t0 + int64(n)*60*sec
}

func TestFilterChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		gap   int64 // seconds since the previous reading
		value float64
		want  Flag
	}{
		{"normal", 60, 40.1, 0},
		{"above max", 60, 500, OutOfRange},
		{"below min", 60, -40, OutOfRange},
		{"not a number", 60, math.NaN(), OutOfRange},
		{"spike", 60, 44, Spike},
		// Two units in ten seconds is too fast, but within four scales of the line through the
		// two readings before (white noise of 0.3 gives that line a scale of about 0.73).
		{"too fast", 10, 42, RateOfChange},
		{"too fast and off the line", 10, 44, Spike | RateOfChange},
		{"dropout", 600, 40, Dropout},
		// After a gap longer than the window (15 min), a new level is not a spike or a jump.
		{"long gap, new level", 3 * 3600, 46, Dropout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := NewFilter(tempSpec(), DefaultConfig(Temperature))
			next := feed(f, rand.New(rand.NewPCG(1, 2)), sec, 30, 40)
			flags, use := f.Check(Reading{Sensor: "t1", Time: next - 60*sec + tt.gap*sec, Value: tt.value})
			if flags != tt.want {
				t.Fatalf("flags = %v, want %v", flags.Names(), tt.want.Names())
			}
			if flags&bad != 0 && math.Abs(use-40) > 1 {
				t.Fatalf("value to use = %v, want the median near 40", use)
			}
			if flags&bad == 0 && use != tt.value {
				t.Fatalf("value to use = %v, want the raw %v", use, tt.value)
			}
		})
	}
}

// TestLongGapStartsAfresh: after two hours away a sensor comes back at another level (another
// load): only the first reading is flagged (dropout); the readings after it are judged
// against each other, not against the values from before the gap.
func TestLongGapStartsAfresh(t *testing.T) {
	t.Parallel()
	f := NewFilter(tempSpec(), DefaultConfig(Temperature))
	rng := rand.New(rand.NewPCG(1, 2))
	next := feed(f, rng, sec, 30, 40)
	next += 2 * 3600 * sec
	for i := range 30 {
		flags, _ := f.Check(Reading{Sensor: "t1", Time: next + int64(i)*60*sec, Value: 47 + 0.3*rng.NormFloat64()})
		if want := Flag(0); i == 0 {
			want = Dropout
			if flags != want {
				t.Fatalf("first reading after the gap: flags %v, want dropout only", flags.Names())
			}
		} else if flags != want {
			t.Fatalf("reading %d after the gap: flags %v, want none", i, flags.Names())
		}
	}
}

func TestFilterStuck(t *testing.T) {
	t.Parallel()
	f := NewFilter(tempSpec(), DefaultConfig(Temperature))
	next := feed(f, rand.New(rand.NewPCG(1, 2)), sec, 30, 40)
	var flags Flag
	for i := range 15 {
		flags, _ = f.Check(Reading{Sensor: "t1", Time: next + int64(i)*60*sec, Value: 40.2})
	}
	if !flags.Has(Stuck) {
		t.Fatalf("15 equal readings: flags %v, want stuck", flags.Names())
	}
}

func TestDetectorDeclaresAndClears(t *testing.T) {
	t.Parallel()
	var d Detector
	var declared, cleared *FaultEvent
	for i := range 40 {
		flags := Flag(0)
		if i >= 10 && i < 20 {
			flags = Stuck
		}
		if ev := d.Observe(int64(i), flags); ev != nil {
			if ev.Cleared {
				cleared = ev
			} else {
				declared = ev
			}
		}
	}
	if declared == nil || declared.Fault != Stuck || declared.Since != 10 {
		t.Fatalf("declared = %+v, want stuck since 10", declared)
	}
	if cleared == nil || cleared.ClearedAt != 39 {
		t.Fatalf("cleared = %+v, want at 39", cleared)
	}
	if d.Faulty {
		t.Fatal("still faulty after recovery")
	}
}

func TestDetectorIgnoresLoneOutliers(t *testing.T) {
	t.Parallel()
	var d Detector
	for i := range 1000 {
		flags := Flag(0)
		if i%7 == 0 {
			flags = Spike
		}
		if ev := d.Observe(int64(i), flags); ev != nil {
			t.Fatalf("declared %+v for one spike in seven", ev)
		}
	}
}

// newMachine has three temperature and two vibration sensors, calibrated on normal data.
func newMachine(t *testing.T, rng *rand.Rand) (*Machine, int64) {
	t.Helper()
	m := NewMachine("m1", HealthConfig{Calibration: 200, Smoothing: 10, Raise: 4, Lower: 2.5})
	for _, id := range []string{"t1", "t2", "t3"} {
		s := tempSpec()
		s.ID = id
		m.AddSensor(s, DefaultConfig(Temperature))
	}
	for _, id := range []string{"v1", "v2"} {
		m.AddSensor(Spec{ID: id, Machine: "m1", Kind: Vibration, Min: 0, Max: 50, Interval: time.Minute}, DefaultConfig(Vibration))
	}
	now := int64(0)
	for range 300 {
		now = step(t, m, rng, now, map[string]float64{})
	}
	return m, now
}

// step feeds one reading per sensor at now+1 min, adding extra[id] to the normal level.
func step(t *testing.T, m *Machine, rng *rand.Rand, now int64, extra map[string]float64) int64 {
	t.Helper()
	now += 60 * sec
	for _, id := range []string{"t1", "t2", "t3", "v1", "v2"} {
		level, noise := 40.0, 0.3
		if id[0] == 'v' {
			level, noise = 2, 0.08
		}
		if _, err := m.Process(Reading{Sensor: id, Time: now, Value: level + extra[id] + noise*rng.NormFloat64()}); err != nil {
			t.Fatal(err)
		}
	}
	return now
}

func TestLoneSensorNeverCritical(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"t1", "v1"} {
		m, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
		for i := range 400 {
			now = step(t, m, rand.New(rand.NewPCG(uint64(i), 5)), now, map[string]float64{id: float64(i) * 0.05})
			if m.Status == Critical {
				t.Fatalf("%s rising alone made the machine CRITICAL", id)
			}
		}
	}
}

func TestCorroboratedRiseIsCritical(t *testing.T) {
	t.Parallel()
	m, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
	for i := range 300 {
		r := float64(i) / 300
		now = step(t, m, rand.New(rand.NewPCG(uint64(i), 6)), now,
			map[string]float64{"t1": 10 * r, "t2": 10 * r, "t3": 10 * r, "v1": 2 * r, "v2": 2 * r})
	}
	if m.Status != Critical {
		t.Fatalf("status %v after vibration and temperature rose together, want CRITICAL", m.Status)
	}
	// The reason names the kinds before the sensor ids: downstream (scheduling's skills) reads them.
	for _, want := range []string{"vibration and temperature rising together", "temperature t1 +", "vibration v"} {
		if !strings.Contains(m.Reason, want) {
			t.Errorf("reason %q lacks %q", m.Reason, want)
		}
	}
}

func TestDriftAgainstPeers(t *testing.T) {
	t.Parallel()
	m, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
	for i := range 200 {
		now = step(t, m, rand.New(rand.NewPCG(uint64(i), 7)), now, map[string]float64{"t2": float64(i) * 0.03})
	}
	if !m.Sensors["t2"].Detector.Faulty || m.Sensors["t2"].Detector.Fault != Drift {
		t.Fatalf("t2 detector %+v, want faulty by drift", m.Sensors["t2"].Detector)
	}
	for _, id := range []string{"t1", "t3"} {
		if m.Sensors[id].Detector.Faulty {
			t.Fatalf("healthy peer %s declared faulty", id)
		}
	}
}

// TestStateSurvivesRestart serialises the state mid-stream, restores it and checks the
// restored machine produces exactly what the uninterrupted one does.
func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	a, now := newMachine(t, rand.New(rand.NewPCG(8, 9)))
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var b Machine
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(10, 11))
	for i := range 500 {
		now += 60 * sec
		v := 40 + 0.3*rng.NormFloat64()
		if i%50 == 0 {
			v += 5
		}
		r := Reading{Sensor: "t1", Time: now, Value: v}
		ra, errA := a.Process(r)
		rb, errB := b.Process(r)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if ra.Flags != rb.Flags || ra.Value != rb.Value || ra.Faulty != rb.Faulty {
			t.Fatalf("reading %d: restored %+v, uninterrupted %+v", i, rb, ra)
		}
	}
}

func TestUnknownSensor(t *testing.T) {
	t.Parallel()
	m := NewMachine("m1", DefaultHealth)
	if _, err := m.Process(Reading{Sensor: "nope"}); err == nil {
		t.Fatal("no error for an unknown sensor")
	}
}

// TestFastLevelStepFlaggedOnce: a level step faster than the kind's rate limit (12 units in a
// minute, the limit is 6) is flagged on its first reading only; the readings after it follow
// it at a plausible rate. (Judged against the lagging rolling median, the next 7 were flagged
// rate of change before.)
func TestFastLevelStepFlaggedOnce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(6, 6))
	vals := make([]float64, 600)
	for i := range vals {
		vals[i] = 40 + 0.25*rng.NormFloat64()
		if i >= 400 {
			vals[i] += 12
		}
	}
	f := NewFilter(tempSpec(), DefaultConfig(Temperature))
	for i, v := range vals {
		fl, use := f.Check(Reading{Sensor: "t1", Time: int64(i+1) * 60 * sec, Value: v})
		switch {
		case i == 400 && fl&(Spike|RateOfChange) == 0:
			t.Fatalf("the step: flags %v, want spike or rate of change", fl.Names())
		case i > 400 && fl != 0:
			t.Fatalf("reading %d after the step: flags %v (value to use %.1f), want none", i-400, fl.Names(), use)
		}
	}
}

// TestOutOfRangeRunIsNotStuck: a sensor reading below its physical minimum for half an hour
// (a drifting current sensor under 0) is out of range, not stuck: each such reading puts the
// rolling median in the window, and a window of copies of it is flat. (Six of the eight false
// stuck detections on faultgen seeds 1-3 were this.)
func TestOutOfRangeRunIsNotStuck(t *testing.T) {
	t.Parallel()
	f := NewFilter(tempSpec(), DefaultConfig(Temperature))
	rng := rand.New(rand.NewPCG(8, 8))
	next := feed(f, rng, sec, 100, 40)
	for i := range 30 {
		fl, _ := f.Check(Reading{Sensor: "t1", Time: next + int64(i)*60*sec, Value: -25 - rng.Float64()})
		if fl&OutOfRange == 0 || fl&Stuck != 0 {
			t.Fatalf("out-of-range reading %d: flags %v, want out of range and not stuck", i, fl.Names())
		}
	}
}
