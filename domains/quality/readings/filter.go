package readings

import "math"

// madScale turns a MAD into a standard-deviation estimate for normal noise.
const madScale = 1.4826

// Reading is one sample of one sensor.
type Reading struct {
	// Sensor is the sensor id.
	Sensor string
	// Time is the sample time in Unix nanoseconds.
	Time int64
	// Value is the measured value.
	Value float64
}

// Filter is one sensor's check state.
type Filter struct {
	// Spec is the sensor.
	Spec Spec `json:"spec"`
	// Config is the kind's tuning.
	Config Config `json:"config"`
	// Window holds the recent values.
	Window *Window `json:"window"`
	// LastTime is the previous sample time (Unix ns), 0 before the first.
	LastTime int64 `json:"last_time"`
	// LastValue is the previous value to use.
	LastValue float64 `json:"last_value"`
	// Median is the rolling median after the last reading.
	Median float64 `json:"median"`
	// LastFlags are the previous reading's flags: Check's own, plus those the caller recorded
	// (RecordFlags).
	LastFlags Flag `json:"last_flags"`
	// Count is how many readings were checked.
	Count int64 `json:"count"`
	// Shape holds the second-difference and repeated-value state.
	Shape Shape `json:"shape"`
	// realign is set by ExpectRealign for the next Check only.
	realign bool
}

// NewFilter returns the filter of a sensor.
func NewFilter(s Spec, c Config) *Filter {
	return &Filter{Spec: s, Config: c, Window: NewWindow(c.Window)}
}

// minFill is how many values the window needs before the Hampel test runs.
const minFill = 5

// Check runs the per-sensor checks on r (every check but drift, which needs the peers),
// updates the state and returns the flags and the value to use.
func (f *Filter) Check(r Reading) (flags Flag, use float64) {
	c, w := &f.Config, f.Window
	v := r.Value
	if math.IsNaN(v) || math.IsInf(v, 0) || (f.Spec.Max > f.Spec.Min && (v < f.Spec.Min || v > f.Spec.Max)) {
		flags |= OutOfRange
	}
	if f.LastTime != 0 {
		dt := float64(r.Time-f.LastTime) / 1e9
		iv := f.Spec.Interval.Seconds()
		if iv > 0 && c.DropoutFactor > 0 && dt > c.DropoutFactor*iv {
			flags |= Dropout
		}
		if iv > 0 && dt > float64(c.Window)*iv {
			// After a gap longer than the window spans, its values and the last value describe
			// another time (another load, another time of day): judging the new reading by
			// them would flag a spike or a jump that is only the gap. Start afresh.
			f.Window = NewWindow(c.Window)
			w = f.Window
			f.LastFlags = 0
			f.Shape.reset()
		} else if c.MaxRate > 0 && dt > 0 && flags&OutOfRange == 0 && f.LastFlags&(Stuck|Drift) == 0 && !f.realign &&
			math.Abs(v-f.LastValue)/dt > c.MaxRate && !f.followsJump(v, dt) {
			// (A stuck or drifting value was not the truth: the rate from it means nothing.)
			flags |= RateOfChange
		}
	}
	sh := &f.Shape
	var d2, scale float64
	var rough bool
	if flags&OutOfRange == 0 {
		var noisy bool
		d2, scale, noisy = sh.step(v, c.Window, c.Threshold, c.NoiseRatio, c.NoiseCalibration, f.Spec.Resolution)
		if noisy {
			flags |= Noise
		}
	}
	// A flat window has no spread: the first live value after it is recovery, not a spike.
	// Likewise a jump after a reading flagged as drifting is the drift ending (a sensor set
	// right), a level step, not a spike: that needs the caller to record the drift flag it adds
	// (RecordFlags). A reading on the line through the two before it is a ramp or a cycle, not a
	// spike, and a sensor whose precision degraded has outliers that are its noise.
	if c.Threshold > 0 && w.Len() >= minFill && flags&(OutOfRange|Noise) == 0 && f.LastFlags&(Stuck|Drift) == 0 && !f.realign {
		// A reading close to the outlier before it, or to the first reading after a stuck
		// run, makes that one a level step, not a spike: flagged once at most, not until the
		// rolling median reaches the new level.
		step := (f.LastFlags&Spike != 0 || sh.Recovery) && math.Abs(v-sh.Last) <= c.Threshold*max(scale, c.MinScale)
		// Once the sensor's precision is known, a spike is a reading far off the line through
		// the two before it and far from the rolling median (so the return from a spike is not
		// one); on a ramp the median lags, and the Hampel test alone would miss or invent them.
		lim := c.Threshold * max(scale, c.MinScale)
		if scale > 0 && !step && math.Abs(d2) > lim && math.Abs(v-w.Median()) > lim && math.Abs(v-sh.Last) > lim ||
			scale == 0 && w.Outlier(v, c.Threshold, c.MinScale) {
			// An outlier among rough readings is noise setting in: the noise rule needs half its
			// window rough before it says so, and these are its first readings.
			if c.NoiseRatio > 0 && sh.rough() >= roughNoise {
				flags |= Noise
			} else {
				flags |= Spike
			}
		}
		rough = scale > 0 && math.Abs(d2) > roughShare*lim
	}
	sh.mark(rough, flags&Spike != 0)
	if flags&OutOfRange != 0 {
		w.Push(f.fallback())
	} else {
		w.Push(v)
	}
	if flags&OutOfRange == 0 && sh.repeats(v, f.Spec.Resolution, c.StuckFalseRate) {
		flags |= Stuck
	}
	// An out-of-range reading pushes the rolling median in its place, so a run of them fills
	// the window with copies of one value: flat, but not stuck.
	if c.StuckVariance > 0 && flags&OutOfRange == 0 && w.Full() && w.flatter(c.StuckVariance) {
		flags |= Stuck
	}
	if flags&bad == 0 {
		sh.learn(true)
	}
	f.Median = w.Median()
	use = v
	if flags&bad != 0 {
		use = f.fallback()
	}
	if flags&OutOfRange == 0 {
		sh.push(v)
	}
	sh.Recovery = f.LastFlags&Stuck != 0 && flags&Stuck == 0
	f.LastTime, f.LastValue, f.LastFlags = r.Time, use, flags
	f.Count++
	f.realign = false
	return flags, use
}

// RecordFlags adds flags that a check outside the filter (drift, judged across the machine's
// sensors after Check) gave the reading Check judged last, so that the next reading is judged
// knowing them: the first reading after a drift is not a spike.
func (f *Filter) RecordFlags(flags Flag) { f.LastFlags |= flags }

// ExpectRealign tells the next Check that its reading brings the sensor back in line with
// what the rest of the machine predicts (Machine.realigns): a jump then is the sensor's error
// ending, a level step back to the truth, as after a reading flagged as drifting; neither a
// spike nor too fast a rate.
func (f *Filter) ExpectRealign() { f.realign = true }

// followsJump says whether v, dt seconds after a reading flagged as a jump (spike or rate of
// change), follows that reading's raw value at a plausible rate: the jump is then a new level,
// flagged once. (The previous value to use is the rolling median, which lags a new level by
// half a window: judged against it, every reading after a level step was too fast.)
func (f *Filter) followsJump(v, dt float64) bool {
	return f.LastFlags&(Spike|RateOfChange) != 0 && f.Shape.Seen > 0 && math.Abs(v-f.Shape.Last)/dt <= f.Config.MaxRate
}

// fallback is the value to use for a bad reading: the rolling median, or the last value.
func (f *Filter) fallback() float64 {
	if f.Window.Len() > 0 {
		return f.Window.Median()
	}
	return f.LastValue
}
