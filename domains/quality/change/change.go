// Package change detects a sustained change of a signal's level in either direction, and
// isolated outliers, against the signal's own slowly learnt baseline: a two-sided CUSUM
// (Page, 1954) on residuals standardised by a robust running scale. It is the health side of
// the quality domain's fault/failure split: a drop counts as much as a rise.
package change

import "math"

// Params tune the detector. The same values serve every series of a sensor kind.
type Params struct {
	// Baseline is the span, in readings, of the slow exponential average that is "normal".
	Baseline int
	// Warmup is how many readings learn the baseline before any score is given.
	Warmup int
	// Slack is CUSUM's allowance k, in scales, that a residual must exceed to accumulate.
	Slack float64
	// Alarm is CUSUM's decision threshold h, in scales; the score reaches 0.5 at h.
	Alarm float64
	// Spike is the single-reading residual, in scales, that scores 0.5 on its own.
	Spike float64
}

// Default is the tuning used for every NAB series (docs/quality.md).
var Default = Params{Baseline: 400, Warmup: 150, Slack: 0.5, Alarm: 8, Spike: 6}

// Detector is one signal's state. The zero value is not ready: use New.
type Detector struct {
	p          Params
	n          int
	mean       float64
	scale      float64 // exponential average of |residual|, times 1.25 ≈ σ for a normal
	hi, lo     float64 // the two CUSUM sums
	alphaSlow  float64
	lastFinite float64
}

// New returns a detector with parameters p.
func New(p Params) *Detector {
	return &Detector{p: p, alphaSlow: 2 / float64(p.Baseline+1)}
}

// Result is the outcome of one reading.
type Result struct {
	// Score is in [0, 1]: 0.5 at the alarm threshold, approaching 1 beyond it.
	Score float64
	// Up and Down say which direction the sustained change goes (both false when none).
	Up, Down bool
	// Z is the reading's residual in scales.
	Z float64
}

// Observe adds a reading; a NaN or infinite value scores nothing and changes nothing.
func (d *Detector) Observe(v float64) Result {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Result{}
	}
	d.n++
	if d.n == 1 {
		d.mean = v
		return Result{}
	}
	r := v - d.mean
	if d.n <= d.p.Warmup {
		a := 1 / float64(d.n)
		d.mean += a * r
		d.scale += (math.Abs(r) - d.scale) / float64(d.n-1)
		return Result{}
	}
	sigma := max(1.25*d.scale, 1e-9*max(1, math.Abs(d.mean)))
	z := r / sigma
	zc := max(-d.p.Alarm/2, min(d.p.Alarm/2, z)) // one wild value cannot fill CUSUM alone
	d.hi = max(0, d.hi+zc-d.p.Slack)
	d.lo = max(0, d.lo-zc-d.p.Slack)
	res := Result{Z: z}
	s := max(d.hi, d.lo) / d.p.Alarm
	if sp := math.Abs(z) / d.p.Spike; sp > s {
		s = sp
	}
	res.Score = s / (1 + s)
	if d.hi > d.p.Alarm {
		res.Up = true
	}
	if d.lo > d.p.Alarm {
		res.Down = true
	}
	if res.Up || res.Down {
		// The change is reported; the baseline then follows the new level so that it is
		// reported once, not for ever.
		d.hi, d.lo = 0, 0
		d.mean = v
	}
	// The baseline and scale learn slowly, and the scale only from moderate residuals, so that
	// an outlier does not widen what counts as normal.
	d.mean += d.alphaSlow * max(-3*sigma, min(3*sigma, r))
	d.scale += d.alphaSlow * (min(math.Abs(r), 4*sigma) - d.scale)
	return res
}
