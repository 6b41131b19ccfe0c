package readings

import "time"

// Kind is what a sensor measures.
type Kind string

// Sensor kinds.
const (
	Temperature Kind = "temperature"
	Vibration   Kind = "vibration"
	Current     Kind = "current"
	Pressure    Kind = "pressure"
	Running     Kind = "running"
)

// Kinds lists the known sensor kinds.
var Kinds = []Kind{Temperature, Vibration, Current, Pressure, Running}

// Config tunes the checks for one sensor kind. A zero threshold turns its check off.
type Config struct {
	// Window is the Hampel and flat-line window in readings.
	Window int `json:"window"`
	// Threshold is the Hampel threshold in scaled MADs (1.4826·MAD ≈ σ).
	Threshold float64 `json:"threshold"`
	// MinScale is the noise floor for the scaled MAD, so a quiet window does not flag noise.
	MinScale float64 `json:"min_scale"`
	// StuckVariance flags a flat line: variance over the window below it.
	StuckVariance float64 `json:"stuck_variance"`
	// MaxRate is the largest plausible change per second.
	MaxRate float64 `json:"max_rate"`
	// DropoutFactor flags a gap longer than this many expected intervals.
	DropoutFactor float64 `json:"dropout_factor"`
	// SilenceFactor declares a sensor dropped out once another sensor of its machine sends
	// a reading more than this many expected intervals after the sensor's last one.
	SilenceFactor float64 `json:"silence_factor"`
	// DriftTolerance flags a sensor whose offset from its peers moved by more than this.
	DriftTolerance float64 `json:"drift_tolerance"`
	// DriftCalibration is how many readings learn the normal offset from the peers.
	DriftCalibration int `json:"drift_calibration"`
	// NoiseRatio flags precision degradation: the recent median |second difference| above this
	// many times the sensor's long-term one (0 turns it off).
	NoiseRatio float64 `json:"noise_ratio,omitempty"`
	// NoiseCalibration is how many clean readings learn the long-term one first.
	NoiseCalibration int `json:"noise_calibration,omitempty"`
	// StuckFalseRate flags a run of repeated values (within half the declared resolution) once
	// a clean sensor would repeat that long with at most this probability, from its learnt
	// repeat rate (0 turns it off; the flat-window rule still applies).
	StuckFalseRate float64 `json:"stuck_false_rate,omitempty"`
	// ModelCalibration is how many clean readings learn the sensor's prediction from the
	// machine's other sensors and the time of day (Model); ModelThreshold flags drift from it,
	// in residual spreads (either 0 turns it off).
	ModelCalibration int     `json:"model_calibration,omitempty"`
	ModelThreshold   float64 `json:"model_threshold,omitempty"`
}

// DefaultConfig returns the tuned defaults for a kind.
func DefaultConfig(k Kind) Config {
	c := Config{Window: 15, Threshold: 4, DropoutFactor: 2.5, SilenceFactor: 5, DriftCalibration: 100,
		NoiseRatio: 3, NoiseCalibration: 100, StuckFalseRate: 1e-5, ModelCalibration: 2880, ModelThreshold: 4}
	switch k {
	case Temperature:
		c.MinScale, c.StuckVariance, c.MaxRate, c.DriftTolerance = 0.2, 1e-4, 0.1, 1.5
	case Vibration:
		c.MinScale, c.StuckVariance, c.MaxRate, c.DriftTolerance = 0.05, 1e-6, 0.05, 0.6
	case Current:
		c.MinScale, c.StuckVariance, c.MaxRate, c.DriftTolerance = 0.2, 1e-4, 1, 3
	case Pressure:
		c.MinScale, c.StuckVariance, c.MaxRate, c.DriftTolerance = 0.05, 1e-6, 0.05, 0.5
	case Running:
		c.Threshold, c.DriftTolerance, c.NoiseRatio, c.StuckFalseRate, c.ModelCalibration = 0, 0, 0, 0, 0
	}
	return c
}

// Spec is a registered sensor as the filters need it.
type Spec struct {
	// ID is the sensor id.
	ID string `json:"id"`
	// Machine is the machine id.
	Machine string `json:"machine"`
	// Kind is what it measures.
	Kind Kind `json:"kind"`
	// Min and Max are the physical range.
	Min float64 `json:"min"`
	// Max is the physical maximum.
	Max float64 `json:"max"`
	// Interval is the expected sampling interval.
	Interval time.Duration `json:"interval"`
	// Resolution is the smallest step the sensor reports (0 when not declared): repeats of a
	// value are judged against it.
	Resolution float64 `json:"resolution,omitempty"`
}

// Flag is one check a reading failed; a reading's flags are a bit set.
type Flag uint8

// Flags, one bit each.
const (
	OutOfRange Flag = 1 << iota
	Spike
	Stuck
	Dropout
	RateOfChange
	Drift
	Noise
)

// AllFlags lists every flag in bit order.
var AllFlags = []Flag{OutOfRange, Spike, Stuck, Dropout, RateOfChange, Drift, Noise}

// bad are the flags that make the value itself unusable (a dropout only says samples went
// missing before this one).
const bad = OutOfRange | Spike | Stuck | RateOfChange | Drift | Noise

var flagNames = map[Flag]string{
	OutOfRange: "out_of_range", Spike: "spike", Stuck: "stuck",
	Dropout: "dropout", RateOfChange: "rate_of_change", Drift: "drift", Noise: "noise",
}

// String names a single flag.
func (f Flag) String() string {
	if n, ok := flagNames[f]; ok {
		return n
	}
	return "flags"
}

// Has reports whether every bit of g is set in f.
func (f Flag) Has(g Flag) bool { return f&g == g && g != 0 }

// Names lists the flags set in f.
func (f Flag) Names() []string {
	var out []string
	for _, g := range AllFlags {
		if f&g != 0 {
			out = append(out, g.String())
		}
	}
	return out
}
