package change

import (
	"math/rand/v2"
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
