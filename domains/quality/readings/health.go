package readings

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Status is a machine's health.
type Status int

// Health levels.
const (
	OK Status = iota + 1
	Warn
	Critical
)

// String names the status.
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warn:
		return "WARN"
	case Critical:
		return "CRITICAL"
	}
	return "UNSPECIFIED"
}

// HealthConfig tunes the trend detector.
type HealthConfig struct {
	// Calibration is how many clean readings learn a sensor's normal mean and spread.
	Calibration int `json:"calibration"`
	// Smoothing is the span of the exponential average of clean values, in readings.
	Smoothing int `json:"smoothing"`
	// Raise marks a sensor elevated when its average is this many spreads above or below normal.
	Raise float64 `json:"raise"`
	// Lower clears the mark below this many spreads.
	Lower float64 `json:"lower"`
}

// DefaultHealth is the default trend tuning.
var DefaultHealth = HealthConfig{Calibration: 1000, Smoothing: 30, Raise: 4, Lower: 2.5}

// Trend is one sensor's health state: its normal level and its recent clean average.
type Trend struct {
	// N, Mean and M2 are Welford's running statistics over calibration.
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
	// Avg is the exponential average of recent clean values.
	Avg float64 `json:"avg"`
	// Elevated says the sensor trends away from normal, above or below (Z's sign says which).
	Elevated bool `json:"elevated"`
	// Z is the last score in spreads above normal.
	Z float64 `json:"z"`
}

// observe adds a clean value.
func (t *Trend) observe(c HealthConfig, v float64, floor float64) {
	if t.N < c.Calibration {
		t.N++
		d := v - t.Mean
		t.Mean += d / float64(t.N)
		t.M2 += d * (v - t.Mean)
		t.Avg = t.Mean
		return
	}
	alpha := 2 / float64(c.Smoothing+1)
	t.Avg += alpha * (v - t.Avg)
	sd := max(math.Sqrt(t.M2/float64(t.N)), floor)
	t.Z = (t.Avg - t.Mean) / sd
	// A sustained change either way is evidence: a failure shows as a drop as often as a rise
	// (NAB's machine_temperature_system_failure fails downwards).
	switch z := math.Abs(t.Z); {
	case !t.Elevated && z > c.Raise:
		t.Elevated = true
	case t.Elevated && z < c.Lower:
		t.Elevated = false
	}
}

// HealthEvent is a change of a machine's health.
type HealthEvent struct {
	// Machine is the machine id.
	Machine string
	// Status is the new status and Reason why.
	Status Status
	Reason string
	// Sensors are the evidence.
	Sensors []string
	// Time is the sample time that changed it (Unix ns).
	Time int64
}

// trended are the kinds whose rise means wear.
var trended = map[Kind]bool{Temperature: true, Vibration: true}

// assess derives the machine status from the elevated (up or down), non-faulty sensors: CRITICAL needs a
// vibration sensor AND a temperature sensor elevated together — two sensors of two kinds —
// so a lone sensor, faulty or not, can at most make WARN.
func assess(m *Machine) (Status, string, []string) {
	kinds := map[Kind]bool{}
	var ids, parts []string
	for id, s := range m.Sensors {
		if s.Detector.Faulty || !s.Trend.Elevated {
			continue
		}
		kinds[s.Filter.Spec.Kind] = true
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return OK, "all clean signals within normal range", nil
	}
	sort.Strings(ids)
	for _, id := range ids {
		// The kind leads, so a reader (scheduling's skill) knows what rises without the registry.
		parts = append(parts, fmt.Sprintf("%s %s %+.1fσ", m.Sensors[id].Filter.Spec.Kind, id, m.Sensors[id].Trend.Z))
	}
	reason := strings.Join(parts, ", ")
	rise, rising := "rise", "rising"
	for _, id := range ids {
		if m.Sensors[id].Trend.Z < 0 {
			rise, rising = "change", "changing"
		}
	}
	if kinds[Vibration] && kinds[Temperature] {
		return Critical, "vibration and temperature " + rising + " together: " + reason, ids
	}
	return Warn, "uncorroborated " + rise + ": " + reason, ids
}
