package readings

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// plant is a machine whose sensors share a load that steps between rest and run (runs and
// rests of 1–5 h, 10-minute ramps): temperature and vibration follow it, as the current does.
type plant struct {
	m     *Machine
	rng   *rand.Rand
	kinds map[string]Kind
	load  float64
	goal  float64
	next  int
}

// plantLevels are each kind's level at rest, its rise at full load and its noise.
var plantLevels = map[Kind][3]float64{
	Temperature: {40, 12, 0.3}, Vibration: {1.5, 1.2, 0.06}, Current: {4, 20, 0.4},
}

func newPlant(seed uint64, sensors map[string]Kind) *plant {
	p := &plant{m: NewMachine("m1", DefaultHealth), rng: rand.New(rand.NewPCG(seed, 17)), kinds: sensors, goal: 1, next: 60}
	for id, k := range sensors {
		p.m.AddSensor(Spec{ID: id, Machine: "m1", Kind: k, Min: -20, Max: 150, Interval: time.Minute}, DefaultConfig(k))
	}
	return p
}

// step sends reading i of every sensor, each offset by extra[id].
func (p *plant) step(t *testing.T, i int, extra map[string]float64) {
	t.Helper()
	if i == p.next {
		p.goal = 1 - p.goal
		p.next = i + 60 + p.rng.IntN(240)
	}
	p.load += max(-0.1, min(0.1, p.goal-p.load))
	for _, id := range []string{"t1", "v1", "c1"} {
		k, ok := p.kinds[id]
		if !ok {
			continue
		}
		l := plantLevels[k]
		v := l[0] + l[1]*p.load + l[2]*p.rng.NormFloat64() + extra[id]
		if _, err := p.m.Process(Reading{Sensor: id, Time: int64(i+1) * int64(time.Minute), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadStepDoesNotRaiseHealth: a machine whose current, temperature and vibration all move
// with its load steps (what made package change fire on every step of faultgen's machines)
// stays OK over a week of steps: the change is judged on the residual against the current.
func TestLoadStepDoesNotRaiseHealth(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		p := newPlant(seed, map[string]Kind{"t1": Temperature, "v1": Vibration, "c1": Current})
		for i := range 7 * 1440 {
			p.step(t, i, nil)
			if p.m.Status != OK {
				t.Fatalf("seed %d reading %d: %v (%q) on load steps alone", seed, i, p.m.Status, p.m.Reason)
			}
		}
		if ld := p.m.Sensors["t1"].Trend.Load; ld == nil || len(ld.Peers) != 1 || ld.Peers[0].Peer != "c1" {
			t.Fatalf("seed %d: t1's load fits %+v, want one on c1", seed, ld)
		}
	}
}

// TestRiseWithSteadyLoadRaisesHealth: on a machine of a temperature and a current sensor, a
// temperature rise the load does not explain raises WARN, while the load keeps stepping; a
// drop does too. Neither is CRITICAL: no vibration sensor corroborates it.
func TestRiseWithSteadyLoadRaisesHealth(t *testing.T) {
	t.Parallel()
	for _, shift := range []float64{4, -4} {
		p := newPlant(4, map[string]Kind{"t1": Temperature, "c1": Current})
		for i := range 2 * 1440 {
			p.step(t, i, nil)
		}
		if p.m.Status != OK {
			t.Fatalf("shift %v: %v (%q) before the change", shift, p.m.Status, p.m.Reason)
		}
		raisedAt := -1
		for i := range 720 {
			r := min(1, float64(i)/120) // over two hours
			p.step(t, 2*1440+i, map[string]float64{"t1": r * shift})
			if p.m.Status == Critical {
				t.Fatalf("shift %v: CRITICAL on temperature alone (%q)", shift, p.m.Reason)
			}
			if p.m.Status == Warn && raisedAt < 0 {
				raisedAt = i
			}
		}
		if raisedAt < 0 || p.m.Status != Warn {
			t.Fatalf("shift %v: status %v (%q), first WARN at %d, want WARN", shift, p.m.Status, p.m.Reason, raisedAt)
		}
		if want := map[bool]string{true: "uncorroborated rise: temperature t1 +", false: "uncorroborated change: temperature t1 -"}[shift > 0]; !strings.Contains(p.m.Reason, want) {
			t.Errorf("shift %v: reason %q, want %q", shift, p.m.Reason, want)
		}
		t.Logf("shift %v: WARN %d readings after the change began", shift, raisedAt)
	}
}

// TestCorroboratedChangeUnderLoadIsCritical: temperature and vibration rising together while
// the current keeps stepping with the load (bearing wear under a working machine) is CRITICAL.
func TestCorroboratedChangeUnderLoadIsCritical(t *testing.T) {
	t.Parallel()
	p := newPlant(5, map[string]Kind{"t1": Temperature, "v1": Vibration, "c1": Current})
	for i := range 2 * 1440 {
		p.step(t, i, nil)
	}
	var seen []Status
	for i := range 900 {
		r := min(1, float64(i)/360) // over six hours
		p.step(t, 2*1440+i, map[string]float64{"t1": 8 * r, "v1": 0.8 * r})
		if len(seen) == 0 || seen[len(seen)-1] != p.m.Status {
			seen = append(seen, p.m.Status)
		}
	}
	if p.m.Status != Critical || !strings.Contains(p.m.Reason, "vibration and temperature rising together") {
		t.Fatalf("status %v (%q; statuses %v), want CRITICAL", p.m.Status, p.m.Reason, seen)
	}
}

// TestSingleSeriesDropAndRiseRaiseHealth: a machine of one temperature sensor (a NAB series)
// is judged on its own baseline: a sustained drop raises WARN as a rise does, a level that
// stays is its new normal after HealthConfig.Settle readings, and a later change raises again.
func TestSingleSeriesDropAndRiseRaiseHealth(t *testing.T) {
	t.Parallel()
	for _, shift := range []float64{-3, 3} {
		m := NewMachine("m1", DefaultHealth)
		m.AddSensor(tempSpec(), DefaultConfig(Temperature))
		rng := rand.New(rand.NewPCG(6, 7))
		level, raised := 40.0, 0
		for i := range 3000 {
			if i == 1200 || i == 2200 {
				level += shift
			}
			res, err := m.Process(Reading{Sensor: "t1", Time: int64(i+1) * 60 * sec, Value: level + 0.3*rng.NormFloat64()})
			if err != nil {
				t.Fatal(err)
			}
			if h := res.Health; h != nil && h.Status != OK {
				if i < 1200 || i > 1200+100 && i < 2200 || i > 2200+100 {
					t.Fatalf("shift %v: %v at reading %d (%q), want it within 100 readings of a change", shift, h.Status, i, h.Reason)
				}
				if h.Status != Warn || (shift < 0) != strings.Contains(h.Reason, "change: temperature t1 -") {
					t.Errorf("shift %v: %v %q, want WARN naming the direction", shift, h.Status, h.Reason)
				}
				raised++
			}
		}
		if raised != 2 {
			t.Fatalf("shift %v: raised %d times, want twice (once per change)", shift, raised)
		}
	}
}

// TestHealthStateFromBeforeTheCUSUM: a machine saved by the version before the CUSUM (no
// change, load or confirmation state, no such tuning) loads; a sensor it had elevated stays
// so under the calibrated-normal rule until its level is back, and the CUSUM then judges.
func TestHealthStateFromBeforeTheCUSUM(t *testing.T) {
	t.Parallel()
	m, now := newMachine(t, rand.New(rand.NewPCG(12, 13)))
	rng := rand.New(rand.NewPCG(14, 15))
	for range 60 {
		now = step(t, m, rng, now, map[string]float64{"t1": 5, "t2": 5, "t3": 5, "v1": 1, "v2": 1})
	}
	if m.Status != Critical {
		t.Fatalf("status %v (%q) before saving, want CRITICAL", m.Status, m.Reason)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var old map[string]any
	_ = json.Unmarshal(raw, &old)
	h := old["health"].(map[string]any)
	for _, k := range []string{"change", "residual", "confirm", "load_calibration", "settle"} {
		delete(h, k)
	}
	for id, s := range old["sensors"].(map[string]any) {
		tr := s.(map[string]any)["trend"].(map[string]any)
		for _, k := range []string{"load", "change", "level", "ref", "since", "pending", "dir", "legacy"} {
			delete(tr, k)
		}
		if id[0] == 't' || id[0] == 'v' {
			tr["elevated"] = true // as the calibrated-normal rule had it
		}
	}
	raw, _ = json.Marshal(old)
	var back Machine
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("state from before the CUSUM: %v", err)
	}
	for range 20 { // still worn
		now = step(t, &back, rng, now, map[string]float64{"t1": 5, "t2": 5, "t3": 5, "v1": 1, "v2": 1})
		if back.Status != Critical {
			t.Fatalf("restored: %v (%q) while the change lasts, want CRITICAL", back.Status, back.Reason)
		}
	}
	for range 300 { // repaired
		now = step(t, &back, rng, now, nil)
	}
	if back.Status != OK {
		t.Fatalf("restored: %v (%q) once back to normal, want OK", back.Status, back.Reason)
	}
	warned := false
	for range 100 { // a new change is the CUSUM's
		now = step(t, &back, rng, now, map[string]float64{"t1": 3, "t2": 3, "t3": 3})
		tr := back.Sensors["t1"].Trend
		warned = warned || back.Status == Warn && tr.Elevated && !tr.Legacy && math.Abs(tr.Z) > 1
	}
	if !warned {
		t.Fatalf("restored: %v (%q) after a new rise, want WARN from the CUSUM", back.Status, back.Reason)
	}
}

// TestHealthSurvivesRestart: the health state (load fits, CUSUM, confirmation) saved as JSON
// mid-stream resumes exactly as the uninterrupted machine does.
func TestHealthSurvivesRestart(t *testing.T) {
	t.Parallel()
	a := newPlant(8, map[string]Kind{"t1": Temperature, "v1": Vibration, "c1": Current})
	b := newPlant(8, map[string]Kind{"t1": Temperature, "v1": Vibration, "c1": Current})
	for i := range 2 * 1440 {
		extra := map[string]float64{"t1": 6 * min(1, max(0, float64(i-2000)/200)), "v1": 0.6 * min(1, max(0, float64(i-2000)/200))}
		a.step(t, i, extra)
		b.step(t, i, extra)
		if i%500 == 250 {
			b.m = reloaded(t, b.m)
		}
		if a.m.Status != b.m.Status || a.m.Reason != b.m.Reason {
			t.Fatalf("reading %d: restored %v %q, uninterrupted %v %q", i, b.m.Status, b.m.Reason, a.m.Status, a.m.Reason)
		}
	}
	if a.m.Status != Critical {
		t.Fatalf("status %v (%q), want the change CRITICAL", a.m.Status, a.m.Reason)
	}
}
