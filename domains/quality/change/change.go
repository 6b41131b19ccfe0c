// Package change detects a sustained change of a signal's level in either direction, and
// isolated outliers, against the signal's own slowly learnt baseline: a two-sided CUSUM
// (Page, 1954) on residuals standardised by a robust running scale. It is the health side of
// the quality domain's fault/failure split: a drop counts as much as a rise.
package change

import (
	"encoding/json"
	"fmt"
	"math"
)

// Params tune the detector. The same values serve every series of a sensor kind.
type Params struct {
	// Baseline is the span, in readings, of the slow exponential average that is "normal".
	Baseline int `json:"baseline"`
	// Warmup is how many readings learn the baseline before any score is given.
	Warmup int `json:"warmup"`
	// Slack is CUSUM's allowance k, in scales, that a residual must exceed to accumulate.
	Slack float64 `json:"slack"`
	// Alarm is CUSUM's decision threshold h, in scales; the score reaches 0.5 at h.
	Alarm float64 `json:"alarm"`
	// Spike is the single-reading residual, in scales, that scores 0.5 on its own.
	Spike float64 `json:"spike"`
	// Refractory is how many readings after a reported event score nothing, so that one
	// change or burst is reported once rather than on every reading it lasts.
	Refractory int `json:"refractory"`
}

// Default is the tuning used for every NAB series (docs/quality.md).
var Default = Params{Baseline: 400, Warmup: 150, Slack: 1.5, Alarm: 8, Spike: 6, Refractory: 250}

// Validate says which parameter is out of range, if any.
func (p Params) Validate() error {
	switch {
	case p.Baseline < 2:
		return fmt.Errorf("change: baseline %d: want at least 2 readings", p.Baseline)
	case p.Warmup < 2:
		return fmt.Errorf("change: warmup %d: want at least 2 readings", p.Warmup)
	case !(p.Slack >= 0):
		return fmt.Errorf("change: slack %v: want ≥ 0", p.Slack)
	case !(p.Alarm > 0):
		return fmt.Errorf("change: alarm %v: want > 0", p.Alarm)
	case !(p.Spike > 0):
		return fmt.Errorf("change: spike %v: want > 0", p.Spike)
	case p.Refractory < 0:
		return fmt.Errorf("change: refractory %d: want ≥ 0", p.Refractory)
	}
	return nil
}

// Detector is one signal's state. The zero value is not ready: use New.
type Detector struct {
	p         Params
	n         int
	mean      float64
	scale     float64 // exponential average of |residual|, times 1.25 ≈ σ for a normal
	hi, lo    float64 // the two CUSUM sums
	alphaSlow float64
	prev      float64
	step      float64 // the smallest non-zero step seen: the signal's resolution
	quiet     int     // readings left in the refractory period
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
	// From is the baseline the change is measured from when Up or Down is set (the level
	// before it; the baseline then restarts at the new level), else the current baseline.
	From float64
	// Event is true on the reading that reports a change or an outlier (score ≥ 0.5), false
	// while the refractory period after it lasts.
	Event bool
}

// Observe adds a reading; a NaN or infinite value scores nothing and changes nothing.
func (d *Detector) Observe(v float64) Result {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Result{}
	}
	d.n++
	if d.n == 1 {
		d.mean, d.prev = v, v
		return Result{}
	}
	if dv := math.Abs(v - d.prev); dv > 0 && (d.step == 0 || dv < d.step) {
		d.step = dv
	}
	d.prev = v
	r := v - d.mean
	if d.n <= d.p.Warmup {
		a := 1 / float64(d.n)
		d.mean += a * r
		d.scale += (math.Abs(r) - d.scale) / float64(d.n-1)
		return Result{}
	}
	// A flat or coarsely quantised signal has no spread to speak of: its resolution is the
	// least change that can mean anything.
	sigma := max(1.25*d.scale, d.step, 1e-9*max(1, math.Abs(d.mean)))
	z := r / sigma
	zc := max(-d.p.Alarm/2, min(d.p.Alarm/2, z)) // one wild value cannot fill CUSUM alone
	d.hi = max(0, d.hi+zc-d.p.Slack)
	d.lo = max(0, d.lo-zc-d.p.Slack)
	res := Result{Z: z}
	s := max(d.hi, d.lo) / d.p.Alarm
	if sp := math.Abs(z) / d.p.Spike; sp > s {
		s = sp
	}
	if d.quiet > 0 {
		d.quiet--
	} else {
		res.Score = s / (1 + s)
		if s >= 1 {
			res.Event = true
			d.quiet = d.p.Refractory
		}
	}
	if d.hi > d.p.Alarm {
		res.Up = true
	}
	if d.lo > d.p.Alarm {
		res.Down = true
	}
	res.From = d.mean
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

// Baseline is the level the detector takes for normal: the slow average of the readings so
// far, restarted at each reported change.
func (d *Detector) Baseline() float64 { return d.mean }

// Scale is the detector's current robust spread (≈ σ of the residuals), 0 before warm-up.
func (d *Detector) Scale() float64 {
	if d.n <= d.p.Warmup {
		return 0
	}
	return max(1.25*d.scale, d.step, 1e-9*max(1, math.Abs(d.mean)))
}

// state is Detector's saved form.
type state struct {
	P     Params  `json:"p"`
	N     int     `json:"n"`
	Mean  float64 `json:"mean"`
	Scale float64 `json:"scale"`
	Hi    float64 `json:"hi"`
	Lo    float64 `json:"lo"`
	Prev  float64 `json:"prev"`
	Step  float64 `json:"step"`
	Quiet int     `json:"quiet"`
}

// MarshalJSON saves the detector's whole state, its parameters included.
func (d *Detector) MarshalJSON() ([]byte, error) {
	return json.Marshal(state{d.p, d.n, d.mean, d.scale, d.hi, d.lo, d.prev, d.step, d.quiet})
}

// UnmarshalJSON restores a state saved by MarshalJSON; a restored detector goes on exactly as
// the saved one would have.
func (d *Detector) UnmarshalJSON(b []byte) error {
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if err := s.P.Validate(); err != nil {
		return err
	}
	*d = Detector{p: s.P, n: s.N, mean: s.Mean, scale: s.Scale, hi: s.Hi, lo: s.Lo, alphaSlow: 2 / float64(s.P.Baseline+1),
		prev: s.Prev, step: s.Step, quiet: s.Quiet}
	return nil
}
