// Package faultgen generates labelled sensor series for judging fault detectors on data they
// were not built beside. It follows the published taxonomy of sensor data faults (Ni et al.,
// "Sensor network data fault types", ACM TOSN 2009; Sharma et al., "Sensor faults: detection
// methods and prevalence", ACM TOSN 2010): spike (short outlier), stuck-at (constant value),
// drift (a bias growing away from the truth), noise (precision degradation: a larger
// variance) and dropout (missing samples). Clean signals are seasonal: a daily cycle, load
// cycles of irregular length with ramps, autocorrelated noise, quantised to the sensor's
// resolution. It shares no code or parameters with quality-sim.
package faultgen

import (
	"math"
	"math/rand/v2"
	"time"
)

// Fault is a fault type of the taxonomy; "" is a clean reading.
type Fault string

// The fault types.
const (
	Clean   Fault = ""
	Spike   Fault = "spike"
	Stuck   Fault = "stuck"
	Drift   Fault = "drift"
	Noise   Fault = "noise"
	Dropout Fault = "dropout"
)

// Faults lists the fault types in a fixed order.
var Faults = []Fault{Spike, Stuck, Drift, Noise, Dropout}

// Profile is a clean signal's shape.
type Profile struct {
	// Kind names what is measured (temperature, vibration, current, pressure).
	Kind string
	// Base is the level at rest; Daily the amplitude of the daily cycle; Load the step a
	// running load adds; Sigma the noise's standard deviation; Resolution the quantum.
	Base, Daily, Load, Sigma, Resolution float64
}

// Profiles are four plausible industrial sensors.
var Profiles = []Profile{
	{Kind: "temperature", Base: 55, Daily: 4, Load: 9, Sigma: 0.25, Resolution: 0.1},
	{Kind: "vibration", Base: 1.8, Daily: 0.05, Load: 1.2, Sigma: 0.06, Resolution: 0.01},
	{Kind: "current", Base: 4, Daily: 0.5, Load: 18, Sigma: 0.4, Resolution: 0.1},
	{Kind: "pressure", Base: 6, Daily: 0.3, Load: 1.5, Sigma: 0.04, Resolution: 0.01},
}

// Sample is one reading. A dropped sample has Missing set and no value to send.
type Sample struct {
	Time    time.Time
	Value   float64
	Missing bool
	Fault   Fault
}

// Episode is one injected fault: samples [From, To) of a series.
type Episode struct {
	Fault    Fault
	From, To int
}

// Series is one sensor's labelled readings.
type Series struct {
	Sensor   string
	Profile  Profile
	Interval time.Duration
	Samples  []Sample
	Episodes []Episode
}

// Config says how much to generate.
type Config struct {
	// Machines is how many machines, each with one sensor of every profile.
	Machines int
	// Length is the number of samples per sensor; Interval their spacing.
	Length   int
	Interval time.Duration
	// Episodes is how many faults each sensor gets; the first Clean samples get none.
	Episodes int
	Clean    int
}

// Default is one week of minute readings per sensor with a dozen faults.
var Default = Config{Machines: 5, Length: 7 * 24 * 60, Interval: time.Minute, Episodes: 12, Clean: 2 * 24 * 60}

// Generate returns the series of every sensor, the same for the same seed.
func Generate(c Config, seed uint64) []Series {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	start := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	var out []Series
	for m := range c.Machines {
		load := loadCycle(rng, c.Length, c.Interval)
		for _, p := range Profiles {
			s := Series{Sensor: sensorID(m, p.Kind), Profile: p, Interval: c.Interval}
			truth := clean(rng, p, load, c.Length, c.Interval)
			s.Samples = make([]Sample, c.Length)
			for i, v := range truth {
				s.Samples[i] = Sample{Time: start.Add(time.Duration(i) * c.Interval), Value: v}
			}
			s.Episodes = inject(rng, &s, truth, c)
			for i := range s.Samples {
				s.Samples[i].Value = quantise(s.Samples[i].Value, p.Resolution)
			}
			out = append(out, s)
		}
	}
	return out
}

func sensorID(m int, kind string) string {
	return "m" + string(rune('a'+m%26)) + "-" + kind
}

// loadCycle is the machine's load in [0, 1]: runs and rests of irregular length (one to
// eight hours) with ramps of a quarter of an hour, shared by the machine's sensors.
func loadCycle(rng *rand.Rand, n int, iv time.Duration) []float64 {
	perHour := float64(time.Hour / iv)
	load := make([]float64, n)
	level, target := 0.0, 1.0
	next := int(perHour * (1 + 7*rng.Float64()))
	ramp := 1 / (0.25 * perHour)
	for i := range load {
		if i == next {
			target = 1 - target
			if target == 1 {
				target = 0.6 + 0.4*rng.Float64()
			}
			next = i + int(perHour*(1+7*rng.Float64()))
		}
		level += max(-ramp, min(ramp, target-level))
		load[i] = level
	}
	return load
}

// clean is a profile's true signal: base, daily cycle, load, AR(1) noise of standard
// deviation Sigma.
func clean(rng *rand.Rand, p Profile, load []float64, n int, iv time.Duration) []float64 {
	perDay := float64(24 * time.Hour / iv)
	phase := rng.Float64() * 2 * math.Pi
	const phi = 0.6
	innov := p.Sigma * math.Sqrt(1-phi*phi)
	e := 0.0
	out := make([]float64, n)
	for i := range out {
		e = phi*e + innov*rng.NormFloat64()
		out[i] = p.Base + p.Daily*math.Sin(2*math.Pi*float64(i)/perDay+phase) + p.Load*load[i] + e
	}
	return out
}

// inject places c.Episodes faults of random types at random places, apart from each other
// by at least a few hours so each is judged on its own.
func inject(rng *rand.Rand, s *Series, truth []float64, c Config) []Episode {
	p := s.Profile
	var eps []Episode
	free := func(from, to int) bool {
		const gap = 240
		for _, e := range eps {
			if from < e.To+gap && e.From < to+gap {
				return false
			}
		}
		return from >= c.Clean && to <= len(truth)
	}
	for tries := 0; len(eps) < c.Episodes && tries < 1000; tries++ {
		f := Faults[rng.IntN(len(Faults))]
		var n int
		switch f {
		case Spike:
			n = 1 + rng.IntN(2)
		case Stuck:
			n = 30 + rng.IntN(270)
		case Drift:
			n = 300 + rng.IntN(600)
		case Noise:
			n = 60 + rng.IntN(240)
		case Dropout:
			n = 10 + rng.IntN(110)
		}
		from := c.Clean + rng.IntN(len(truth)-c.Clean)
		if !free(from, from+n) {
			continue
		}
		eps = append(eps, Episode{Fault: f, From: from, To: from + n})
		sign := float64(1 - 2*rng.IntN(2))
		size := 0.5 + rng.Float64()  // drift's final bias, in its scale
		widen := 3 + 3*rng.Float64() // noise's factor on sigma
		for i := from; i < from+n; i++ {
			x := &s.Samples[i]
			x.Fault = f
			switch f {
			case Spike:
				// A short fault of several times the signal's own swing (Sharma et al.'s SHORT).
				x.Value = truth[i] + sign*(p.Daily+p.Load+8*p.Sigma)*(0.5+rng.Float64())
			case Stuck:
				x.Value = truth[from]
			case Drift:
				// The bias grows linearly to a few load swings' worth over the episode.
				x.Value = truth[i] + sign*size*(p.Load/2+4*p.Sigma)*float64(i-from+1)/float64(n)
			case Noise:
				x.Value = truth[i] + widen*p.Sigma*rng.NormFloat64()
			case Dropout:
				x.Missing = true
			}
		}
	}
	return eps
}

func quantise(v, q float64) float64 {
	if q <= 0 {
		return v
	}
	return math.Round(v/q) * q
}
