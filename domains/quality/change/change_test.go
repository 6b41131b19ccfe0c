package change

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func run(t *testing.T, shift float64, at int) (first int, up, down bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 9))
	d := New(Default)
	first = -1
	for i := range 3000 {
		v := 50 + rng.NormFloat64()
		if i >= at {
			v += shift
		}
		r := d.Observe(v)
		if (r.Up || r.Down) && first < 0 {
			first, up, down = i, r.Up, r.Down
		}
	}
	return first, up, down
}

func TestSustainedRiseAndDropBothRaise(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		shift    float64
		up, down bool
	}{{"rise", 3, true, false}, {"drop", -3, false, true}} {
		first, up, down := run(t, c.shift, 2000)
		if first < 2000 || first > 2100 || up != c.up || down != c.down {
			t.Errorf("%s: first alarm at %d (up %v down %v), want within 100 readings after 2000", c.name, first, up, down)
		}
	}
}

func TestNoAlarmOnStationaryNoise(t *testing.T) {
	t.Parallel()
	if first, _, _ := run(t, 0, 0); first >= 0 {
		t.Fatalf("false alarm at %d on stationary noise", first)
	}
}

func TestSpikeScoresHighButIsNotSustained(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	d := New(Default)
	var spike Result
	for i := range 1000 {
		v := 10 + 0.5*rng.NormFloat64()
		r := d.Observe(v + map[bool]float64{true: 20}[i == 800])
		if i == 800 {
			spike = r
		}
	}
	if spike.Score < 0.5 || spike.Up || spike.Down {
		t.Fatalf("spike %+v, want score ≥ 0.5 and no sustained change", spike)
	}
}

func TestValidateNamesTheBadParameter(t *testing.T) {
	t.Parallel()
	if err := Default.Validate(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	for name, edit := range map[string]func(*Params){
		"baseline": func(p *Params) { p.Baseline = 1 }, "warmup": func(p *Params) { p.Warmup = 0 },
		"slack": func(p *Params) { p.Slack = -1 }, "alarm": func(p *Params) { p.Alarm = 0 },
		"spike": func(p *Params) { p.Spike = math.NaN() }, "refractory": func(p *Params) { p.Refractory = -1 },
	} {
		p := Default
		edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s out of range: error %v, want one naming it", name, err)
		}
	}
}

func TestRefractoryReportsABurstOnce(t *testing.T) {
	t.Parallel()
	for _, refr := range []int{0, 50} {
		p := Default
		p.Refractory = refr
		d := New(p)
		rng := rand.New(rand.NewPCG(5, 6))
		events, scored := 0, 0
		for i := range 1000 {
			v := 10 + 0.5*rng.NormFloat64()
			if i >= 800 && i < 810 {
				v += 20 // a burst of ten outliers
			}
			r := d.Observe(v)
			if r.Event && i >= 800 && i < 810 {
				events++
			}
			if i >= 800 && i < 810 && r.Score > 0 {
				scored++
			}
		}
		if refr == 0 && events < 2 {
			t.Errorf("refractory 0: %d events in a burst of ten outliers, want several", events)
		}
		if refr == 50 && (events != 1 || scored != 1) {
			t.Errorf("refractory 50: %d events and %d scored readings in the burst, want 1 and 1", events, scored)
		}
	}
}

func TestQuantisedFlatSignalDoesNotAlarmOnOneStep(t *testing.T) {
	t.Parallel()
	// A signal that sits on one value with rare single-quantum steps has a near-zero spread:
	// its resolution bounds the scale, so one step is not a ten-thousand-sigma event.
	d := New(Default)
	for i := range 2000 {
		v := 20.0
		if i%97 == 0 {
			v = 20.5
		}
		if r := d.Observe(v); i > Default.Warmup && math.Abs(r.Z) > 2.5 {
			t.Fatalf("reading %d (%v): z %v, want within 2.5 for one quantum", i, v, r.Z)
		}
	}
}

func TestStateSurvivesJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 1))
	a := New(Default)
	var b *Detector
	for i := range 3000 {
		v := 20 + rng.NormFloat64() + map[bool]float64{true: 4}[i >= 2000]
		if i%700 == 0 {
			raw, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			b = &Detector{}
			if err := json.Unmarshal(raw, b); err != nil {
				t.Fatal(err)
			}
			a, b = b, a // go on with the restored one; b is the uninterrupted twin
		}
		ra := a.Observe(v)
		if b != nil {
			if rb := b.Observe(v); ra != rb {
				t.Fatalf("reading %d: restored %+v, uninterrupted %+v", i, ra, rb)
			}
		}
	}
	if err := json.Unmarshal([]byte(`{"p":{"baseline":0}}`), &Detector{}); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Fatalf("a state with bad parameters: error %v, want one naming the baseline", err)
	}
}
