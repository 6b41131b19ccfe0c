package readings

import "math"

// Shape is a sensor's state for the checks that judge a reading by the signal's own recent
// shape rather than by its level: the second difference (the reading minus the straight line
// through the two before it), whose robust scale is the sensor's precision and is blind to
// ramps and slow cycles, and the run of repeated values. Zero values are valid: a sensor
// whose state predates these fields starts learning them.
type Shape struct {
	// Seen is how many consecutive values lead up to now (capped at 2): the second difference
	// needs two.
	Seen int `json:"seen"`
	// Last and Prev2 are the previous two in-range values as received (not the values to
	// use): a level step then breaks the line once, not until the rolling median catches up.
	Last  float64 `json:"last"`
	Prev2 float64 `json:"prev2"`
	// Diffs holds the recent |second differences|, clipped at the spike threshold.
	Diffs *Window `json:"diffs,omitempty"`
	// NoiseBase is the long-term median |second difference| learnt from clean readings, over
	// NoiseN readings.
	NoiseBase float64 `json:"noise_base"`
	NoiseN    int     `json:"noise_n"`
	// Run is how many readings in a row repeated RunValue within half the resolution.
	Run      int     `json:"run"`
	RunValue float64 `json:"run_value"`
	// Repeat is the learnt probability that a clean reading repeats the one before, over
	// RepeatN readings.
	Repeat  float64 `json:"repeat"`
	RepeatN int     `json:"repeat_n"`
	// Recovery says the previous reading ended a stuck run.
	Recovery bool `json:"recovery,omitempty"`
}

// baselineSpan is how many clean readings the long-term noise and repeat estimates average.
const baselineSpan = 1000

// repeatWarmup is how many clean readings learn the repeat rate before the run rule uses it.
const repeatWarmup = 100

// reset forgets the recent shape after a long gap; the long-term estimates stay.
func (s *Shape) reset() {
	s.Seen, s.Run = 0, 0
	if s.Diffs != nil {
		s.Diffs = NewWindow(s.Diffs.Size)
	}
}

// step judges v against the straight line through the two values before. It returns the
// second difference, its robust scale before v (0 while unknown), and whether the recent
// scale exceeds ratio times the long-term one (precision degradation). floor is the least
// scale that means anything (the sensor's resolution).
func (s *Shape) step(v float64, size int, k, ratio float64, calib int, floor float64) (d2, scale float64, noisy bool) {
	if s.Diffs == nil {
		s.Diffs = NewWindow(size)
	}
	if s.Seen < 2 {
		return 0, 0, false
	}
	d2 = v - (2*s.Last - s.Prev2)
	if s.Diffs.Len() >= minFill {
		scale = max(madScale*s.Diffs.Median(), floor)
	}
	a := math.Abs(d2)
	if scale > 0 && k > 0 {
		a = min(a, k*scale) // one wild value adds a large scale, not an unbounded one
	}
	s.Diffs.Push(a)
	if ratio > 0 && s.NoiseN >= calib && s.Diffs.Full() {
		noisy = s.Diffs.Median() > ratio*max(s.NoiseBase, floor/madScale)
	}
	return d2, scale, noisy
}

// repeats advances the run of repeated values with v and says whether the run is now longer
// than a clean sensor repeats with probability falseRate: with a learnt repeat probability p,
// a run of n values happens by chance with probability about p^(n-1).
func (s *Shape) repeats(v, resolution, falseRate float64) bool {
	tol := resolution / 2
	if tol <= 0 {
		tol = 1e-9 * max(1, math.Abs(v))
	}
	if s.Run > 0 && math.Abs(v-s.RunValue) <= tol {
		s.Run++
	} else {
		s.Run, s.RunValue = 1, v
	}
	if falseRate <= 0 || s.RepeatN < repeatWarmup || s.Run < 3 {
		return false
	}
	p := min(max(s.Repeat, 0.01), 0.95)
	need := 1 + int(math.Ceil(math.Log(falseRate)/math.Log(p)))
	return s.Run >= max(need, 3)
}

// learn updates the long-term estimates with a clean reading.
func (s *Shape) learn(noiseKnown bool) {
	if s.Diffs != nil && s.Diffs.Full() && noiseKnown {
		s.NoiseN++
		s.NoiseBase += (s.Diffs.Median() - s.NoiseBase) / float64(min(s.NoiseN, baselineSpan))
	}
	rep := 0.0
	if s.Run > 1 {
		rep = 1
	}
	s.RepeatN++
	s.Repeat += (rep - s.Repeat) / float64(min(s.RepeatN, baselineSpan))
}

// push records the in-range value v for the next second difference.
func (s *Shape) push(v float64) {
	s.Prev2, s.Last = s.Last, v
	s.Seen = min(s.Seen+1, 2)
}
