package readings

import (
	"math"
	"math/bits"
)

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
	// Rough and Spiked hold, bit 0 the newest, which of the last readings were rough (a second
	// difference past roughShare of the spike threshold, not explained by a spike flagged on it
	// or on one of the two before it) and which were flagged spikes: an outlier among rough
	// readings is the onset of noise, not a spike. Zero (state saved before them) is a quiet
	// past.
	Rough  uint16 `json:"rough,omitempty"`
	Spiked uint16 `json:"spiked,omitempty"`
}

// scaleWarmup is how many clean readings learn the long-term precision before it bounds the
// spike scale.
const scaleWarmup = 15

// roughShare is the share of the spike threshold past which a second difference is rough;
// roughSpan the readings looked back over and roughNoise how many rough ones make an outlier
// noise. On Gaussian data a difference is rough with probability 0.3 %, two of eight with
// about 2e-4; in a burst of noise three times the sensor's own, with about 0.6 each.
const (
	roughShare = 0.75
	roughSpan  = 8
	roughNoise = 2
)

// mark records whether the reading just judged was rough and whether it was flagged a spike.
// A spike leaves rough differences on the two readings after it (the line through it points
// wrong): those are the spike's, not roughness.
func (s *Shape) mark(rough, spiked bool) {
	const mask = 1<<roughSpan - 1
	rough = rough && !spiked && s.Spiked&3 == 0
	s.Rough = (s.Rough<<1 | b2u(rough)) & mask
	s.Spiked = (s.Spiked<<1 | b2u(spiked)) & mask
}

// rough is how many of the last roughSpan readings were rough.
func (s *Shape) rough() int { return bits.OnesCount16(s.Rough) }

func b2u(b bool) uint16 {
	if b {
		return 1
	}
	return 0
}

// baselineSpan is how many clean readings the long-term noise and repeat estimates average.
const baselineSpan = 1000

// repeatWarmup is how many clean readings learn the repeat rate before the run rule uses it.
const repeatWarmup = 100

// reset forgets the recent shape after a long gap; the long-term estimates stay.
func (s *Shape) reset() {
	s.Seen, s.Run = 0, 0
	s.Rough, s.Spiked = 0, 0
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
	if s.NoiseN >= scaleWarmup {
		// The window's 15 differences give a noisy estimate, low as often as high: a low one
		// made every ramp's corner a spike. The sensor's precision learnt over its clean
		// readings bounds it below, and stands in for it while the window refills after a long
		// gap; the window can only raise it (a rough patch).
		scale = max(scale, madScale*s.NoiseBase, floor)
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
