package readings

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// seasonal is a clean minute signal with a daily cycle, load steps ramped over a quarter of an
// hour and AR(1) noise of standard deviation sigma, quantised to res.
func seasonal(seed uint64, n int, sigma, res float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	load, target, e := 0.0, 1.0, 0.0
	next := 60 + rng.IntN(420)
	for i := range out {
		if i == next {
			target, next = 1-target, i+60+rng.IntN(420)
		}
		load += max(-1.0/15, min(1.0/15, target-load))
		e = 0.6*e + 0.8*sigma*rng.NormFloat64()
		v := 50 + 4*math.Sin(2*math.Pi*float64(i)/1440) + 9*load + e
		out[i] = math.Round(v/res) * res
	}
	return out
}

func checkAll(f *Filter, values []float64) []Flag {
	out := make([]Flag, len(values))
	for i, v := range values {
		out[i], _ = f.Check(Reading{Sensor: f.Spec.ID, Time: int64(i+1) * 60 * sec, Value: v})
	}
	return out
}

func resSpec(res float64) Spec {
	s := tempSpec()
	s.Resolution = res
	return s
}

func TestDetectorsQuietOnSeasonalSignal(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		vals := seasonal(seed, 4*1440, 0.25, 0.1)
		flags := checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)
		count := map[Flag]int{}
		for _, fl := range flags[200:] {
			for _, g := range []Flag{Spike, Stuck, Noise, RateOfChange} {
				if fl&g != 0 {
					count[g]++
				}
			}
		}
		for g, n := range count {
			if rate := float64(n) / float64(len(flags)-200); rate >= 0.005 {
				t.Errorf("seed %d: %s on %.2f %% of clean readings, want < 0.5 %%", seed, g, 100*rate)
			}
		}
	}
}

func TestSpikesOnSeasonalSignalAreFlagged(t *testing.T) {
	t.Parallel()
	vals := seasonal(7, 3*1440, 0.25, 0.1)
	at := []int{500, 1234, 2000, 2901, 3500, 4000}
	for k, i := range at {
		vals[i] += float64(1-2*(k%2)) * 8 // the size of a load swing
	}
	flags := checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)
	for _, i := range at {
		if flags[i]&Spike == 0 {
			t.Errorf("spike at %d not flagged (flags %v)", i, flags[i].Names())
		}
	}
}

func TestLevelStepIsFlaggedOnce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 3))
	vals := make([]float64, 600)
	for i := range vals {
		vals[i] = 40 + 0.25*rng.NormFloat64()
		if i >= 400 {
			vals[i] += 6
		}
	}
	flags := checkAll(NewFilter(tempSpec(), DefaultConfig(Temperature)), vals)
	n := 0
	for _, fl := range flags[400:420] {
		if fl&Spike != 0 {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("a level step flagged %d spikes, want at most 1", n)
	}
}

func TestNoiseBurstFlagged(t *testing.T) {
	t.Parallel()
	for _, widen := range []float64{3, 5} {
		vals := seasonal(11, 2*1440, 0.25, 0.1)
		rng := rand.New(rand.NewPCG(5, 5))
		from, to := 1500, 1700
		for i := from; i < to; i++ {
			vals[i] = math.Round((vals[i]+widen*0.25*rng.NormFloat64())/0.1) * 0.1
		}
		flags := checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)
		first, in := -1, 0
		for i := from; i < to; i++ {
			if flags[i]&Noise != 0 {
				in++
				if first < 0 {
					first = i - from
				}
			}
		}
		if first < 0 || first > 15 || in < (to-from)*3/4 {
			t.Errorf("noise ×%v: first flagged %d readings in, %d of %d flagged; want within 15 and ≥ 3/4",
				widen, first, in, to-from)
		}
		for i := to + DefaultConfig(Temperature).Window; i < len(flags); i++ {
			if flags[i]&Noise != 0 {
				t.Fatalf("noise ×%v: still flagged at %d, %d readings after the burst", widen, i, i-to)
			}
		}
	}
}

func TestStuckFromTheFirstRepeats(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sigma, res float64
		within     int
	}{{0.25, 0.1, 10}, {0.05, 0.1, 15}, {0.25, 0, 4}} {
		vals := seasonal(13, 2*1440, c.sigma, max(c.res, 1e-9))
		from := 1600
		for i := from; i < from+60; i++ {
			vals[i] = vals[from]
		}
		flags := checkAll(NewFilter(resSpec(c.res), DefaultConfig(Temperature)), vals)
		first := -1
		for i := from; i < from+60; i++ {
			if flags[i]&Stuck != 0 {
				first = i - from
				break
			}
		}
		if first < 0 || first > c.within {
			t.Errorf("σ %v resolution %v: stuck flagged %d readings in, want within %d", c.sigma, c.res, first, c.within)
		}
		for i := 200; i < from; i++ {
			if flags[i]&Stuck != 0 {
				t.Errorf("σ %v resolution %v: clean reading %d flagged stuck", c.sigma, c.res, i)
				break
			}
		}
	}
}

func TestShapeRestartsAfterLongGap(t *testing.T) {
	t.Parallel()
	f := NewFilter(resSpec(0.1), DefaultConfig(Temperature))
	checkAll(f, seasonal(2, 500, 0.25, 0.1))
	base := f.Shape.NoiseBase
	f.Check(Reading{Sensor: "t1", Time: int64(time.Hour) * 24 * 3, Value: 61})
	if f.Shape.Seen != 1 || f.Shape.Diffs.Len() != 0 || f.Shape.NoiseBase != base {
		t.Fatalf("after a long gap: seen %d, diffs %d, base %v→%v; want recent shape forgotten, baseline kept",
			f.Shape.Seen, f.Shape.Diffs.Len(), base, f.Shape.NoiseBase)
	}
}

func TestReturnFromStuckIsNotASpikeRun(t *testing.T) {
	t.Parallel()
	vals := seasonal(17, 2*1440, 0.25, 0.1)
	from, to := 1500, 1620
	for i := from; i < to; i++ {
		vals[i] = vals[from]
	}
	for i := to; i < len(vals); i++ {
		vals[i] += 5 // the truth moved on while the sensor was stuck
	}
	flags := checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)
	n := 0
	for _, fl := range flags[to : to+20] {
		if fl&Spike != 0 {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("the return from a stuck run flagged %d spikes, want at most 1", n)
	}
}

// TestRampCornersAreNotSpikes: on clean signals with load steps ramped over a quarter of an
// hour, the corners of a ramp (the second difference there is the change of slope) are not
// spikes. At the top of a ramp the line through the two readings before overshoots and the
// rolling median lags, but the reading is where the one before it was: a spike is far from
// that too. (Before that rule: 18 spikes on these 32 days.)
func TestRampCornersAreNotSpikes(t *testing.T) {
	t.Parallel()
	n := 0
	const seeds, days = 8, 4
	for seed := range uint64(seeds) {
		vals := seasonal(100+seed, days*1440, 0.12, 0.1) // quiet: a ramp climbs 0.6 a reading, 5σ
		for _, fl := range checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)[200:] {
			if fl&Spike != 0 {
				n++
			}
		}
	}
	t.Logf("%d spikes flagged on %d clean readings", n, seeds*(days*1440-200))
	if n > 2 {
		t.Errorf("%d spikes flagged on %d clean days with load ramps, want at most 2", n, seeds*days)
	}
}

// TestOutlierAmongRoughReadingsIsNoise: noise setting in gives a few rough readings (far off
// the line through the two before, near the median) before an outlier; that outlier is the
// noise, flagged NOISE, not a spike. The same outlier after quiet readings is a spike.
func TestOutlierAmongRoughReadingsIsNoise(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		offsets []float64 // added to the clean signal from reading 1500
		want    Flag      // the last one's flag
	}{
		// A reading a little high, then readings swinging 1 either side of the median: each
		// far off the line through the two before it (rough: the spike threshold is about 1.5
		// here, rough past 1.1), none an outlier; then an outlier of 3 below.
		{"after rough readings", []float64{0.8, -1, 1, -3}, Noise},
		{"after quiet readings", []float64{0, 0, 0, -3}, Spike},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// Steady: AR(1) noise of σ 0.25 around 50, quantised to 0.1, no load ramp nearby.
			rng := rand.New(rand.NewPCG(21, 1))
			vals, e := make([]float64, 1510), 0.0
			for i := range vals {
				e = 0.6*e + 0.8*0.25*rng.NormFloat64()
				vals[i] = math.Round((50+e)/0.1) * 0.1
			}
			for i, o := range c.offsets {
				vals[1500+i] += o
			}
			flags := checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)
			last := 1500 + len(c.offsets) - 1
			for i := 1500; i < last; i++ {
				if flags[i]&(Spike|Noise) != 0 {
					t.Fatalf("reading %d (offset %v): flags %v, want none", i, c.offsets[i-1500], flags[i].Names())
				}
			}
			if got := flags[last] & (Spike | Noise); got != c.want {
				t.Fatalf("the outlier: flags %v, want %v", flags[last].Names(), c.want.Names())
			}
		})
	}
}

// TestDriftEndIsNotASpike: a drifting sensor set right jumps back to the truth and stays; with
// the drift flag recorded on the readings before (as Machine would, RecordFlags), the jump is
// the end of the drift, not a spike. Without it the filter alone cannot tell the two apart.
func TestDriftEndIsNotASpike(t *testing.T) {
	t.Parallel()
	for _, record := range []bool{true, false} {
		vals := seasonal(23, 2400, 0.25, 0.1)
		from, to := 1500, 1800
		for i := from; i < to; i++ {
			vals[i] += 5 * float64(i-from+1) / float64(to-from)
		}
		f := NewFilter(resSpec(0.1), DefaultConfig(Temperature))
		n := 0
		for i, v := range vals {
			fl, _ := f.Check(Reading{Sensor: f.Spec.ID, Time: int64(i+1) * 60 * sec, Value: v})
			if record && i >= from+100 && i < to {
				f.RecordFlags(Drift) // the drift model flags the last two thirds
			}
			if i >= to && i < to+20 && fl&Spike != 0 {
				n++
			}
		}
		if record && n != 0 {
			t.Errorf("drift flags recorded: the end of the drift flagged %d spikes, want none", n)
		}
		if !record && n != 1 {
			t.Errorf("no drift flags recorded: %d spikes at the end of the drift, want 1 (a level step, once)", n)
		}
	}
}

// TestReturnFromStuckIsNotTooFast: the truth moved 10 units (more than the 6 a minute the
// rate check allows) while the sensor was stuck; the first reading after the run is not a rate
// of change: the stuck value it would be judged against was never the truth.
func TestReturnFromStuckIsNotTooFast(t *testing.T) {
	t.Parallel()
	vals := seasonal(19, 2*1440, 0.25, 0.1)
	from, to := 1500, 1620
	for i := from; i < to; i++ {
		vals[i] = vals[from]
	}
	for i := to; i < len(vals); i++ {
		vals[i] += 10
	}
	flags := checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)
	if flags[to-1]&Stuck == 0 {
		t.Fatalf("the stuck run's last reading: flags %v, want stuck", flags[to-1].Names())
	}
	for i, fl := range flags[to : to+20] {
		if fl&(Spike|RateOfChange) != 0 {
			t.Fatalf("reading %d after the stuck run: flags %v, want no spike or rate of change", i, fl.Names())
		}
	}
}

// TestRampAfterLongGapIsNotASpike: back from two hours away, the sensor's readings climb a
// load ramp (0.8 a reading); its learnt precision judges them while the window of differences
// refills, rather than a Hampel test on the few values since the gap, for which a ramp is
// outliers.
func TestRampAfterLongGapIsNotASpike(t *testing.T) {
	t.Parallel()
	f := NewFilter(resSpec(0.1), DefaultConfig(Temperature))
	rng := rand.New(rand.NewPCG(9, 9))
	e := 0.0
	noise := func() float64 {
		e = 0.6*e + 0.8*0.25*rng.NormFloat64()
		return e
	}
	t0 := int64(0)
	for i := range 500 {
		t0 = int64(i+1) * 60 * sec
		f.Check(Reading{Sensor: "t1", Time: t0, Value: math.Round((50+noise())/0.1) * 0.1})
	}
	t0 += 2 * 3600 * sec
	for i := range 30 {
		v := 50 + 0.8*float64(min(max(i-4, 0), 15)) + noise() // the ramp starts 4 readings in
		fl, _ := f.Check(Reading{Sensor: "t1", Time: t0 + int64(i)*60*sec, Value: math.Round(v/0.1) * 0.1})
		if fl&Spike != 0 {
			t.Fatalf("reading %d after the gap (on the ramp): flags %v, want no spike", i, fl.Names())
		}
	}
}

// TestSpikesOnRampsAreFlagged: spikes in the middle of load ramps and at their corners are still
// spikes: off the line, off the median and off the reading before, whichever way they point.
func TestSpikesOnRampsAreFlagged(t *testing.T) {
	t.Parallel()
	vals := seasonal(101, 4*1440, 0.12, 0.1)
	clean := append([]float64(nil), vals...)
	var at []int
	for i := 300; i+3 < len(vals) && len(at) < 24; i++ {
		// On a ramp (0.6 a reading) or at its start or top: the slope changes or is steep.
		before, after := clean[i]-clean[i-3], clean[i+3]-clean[i]
		if (math.Abs(before) > 1.2 || math.Abs(after) > 1.2) && (len(at) == 0 || i-at[len(at)-1] > 40) {
			at = append(at, i)
		}
	}
	t.Logf("%d spikes on ramps", len(at))
	if len(at) < 12 {
		t.Fatalf("only %d places on ramps", len(at))
	}
	for k, i := range at {
		vals[i] += float64(1-2*(k%2)) * 4 // a third of a load swing
	}
	flags := checkAll(NewFilter(resSpec(0.1), DefaultConfig(Temperature)), vals)
	for _, i := range at {
		if flags[i]&Spike == 0 {
			t.Errorf("spike at %d (around it %.1f %.1f [%.1f] %.1f) not flagged: %v", i, vals[i-2], vals[i-1], vals[i], vals[i+1], flags[i].Names())
		}
	}
}
