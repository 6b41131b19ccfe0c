// Package job holds scheduling's core without I/O: service jobs, the decisions that open and
// close them with their cause, engineers with skills and shifts, and the planner that assigns
// jobs to engineers.
package job

import (
	"strings"
	"time"
)

// State is where a job is in its lifecycle.
type State int

// The states.
const (
	// Open: not assigned yet.
	Open State = iota + 1
	// Assigned: has an engineer and a slot.
	Assigned
	// Completed: done.
	Completed
	// Cancelled: cancelled or closed because health recovered.
	Cancelled
)

// Kind is what a job is for.
type Kind int

// The kinds.
const (
	// Maintenance of a machine whose health is WARN or CRITICAL.
	Maintenance Kind = iota + 1
	// SensorReplacement of a sensor declared faulty.
	SensorReplacement
	// Manual job created by a dispatcher.
	Manual
	// Inspection of a machine whose health is anomalous, unconfirmed: a short visit to tell a
	// failure from a sensor fault. It becomes a Maintenance job if the health escalates.
	Inspection
)

// Cause is why a decision was taken.
type Cause int

// The causes.
const (
	// HealthWarn: a machine's health became WARN.
	HealthWarn Cause = iota + 1
	// HealthCritical: a machine's health became CRITICAL.
	HealthCritical
	// HealthRecovered: a machine's health recovered.
	HealthRecovered
	// SensorFault: a sensor was declared faulty; its emergency call-out is avoided.
	SensorFault
	// ManualCause: a dispatcher acted by hand.
	ManualCause
	// HealthUnconfirmed: a machine's health became anomalous, unconfirmed.
	HealthUnconfirmed
)

// Criticality is how much a machine matters to production (as quality defines it).
type Criticality int

// The criticalities.
const (
	// Low criticality.
	Low Criticality = iota + 1
	// Medium criticality.
	Medium
	// High criticality.
	High
)

// Health is a machine's condition (as quality defines it).
type Health int

// The health states.
const (
	// OK: nothing abnormal.
	OK Health = iota + 1
	// Warn: one signal trends abnormally.
	Warn
	// Critical: two corroborating signals trend abnormally.
	Critical
	// Unconfirmed: anomalous, unconfirmed — a possible failure seen through, or left
	// uncorroborated by, a sensor declared faulty.
	Unconfirmed
)

// Priorities run from Highest (1) to Lowest (5).
const (
	// Highest priority.
	Highest = 1
	// Lowest priority.
	Lowest = 5
)

// LatLng is a WGS84 point.
type LatLng struct {
	// Lat is the latitude in degrees.
	Lat float64
	// Lng is the longitude in degrees.
	Lng float64
}

// Job is a service job to plan.
type Job struct {
	// ID is the job id.
	ID string
	// Kind is what the job is for.
	Kind Kind
	// MachineID is the machine worked on.
	MachineID string
	// SensorID is the sensor replaced, for sensor-replacement jobs.
	SensorID string
	// Priority runs from Highest (1) to Lowest (5).
	Priority int
	// Skill is the skill the engineer needs.
	Skill string
	// Duration is the work time on site.
	Duration time.Duration
	// Due is when the job should be done by.
	Due time.Time
	// Location is where the machine stands.
	Location LatLng
}

// Weight is how much a minute of lateness of the job costs: 5 for Highest, 1 for Lowest.
func (j Job) Weight() float64 {
	p := min(max(j.Priority, Highest), Lowest)
	return float64(Lowest + 1 - p)
}

// Priority derives an incident job's priority from the machine's criticality and health.
// An unconfirmed anomaly ranks between WARN and CRITICAL: it may be a failure the faulty sensor
// hides (the costliest mistake), and its inspection is short.
func Priority(c Criticality, h Health) int {
	p := Lowest
	switch h {
	case Critical:
		p = 2
	case Unconfirmed:
		p = 3
	case Warn:
		p = 4
	}
	switch c {
	case High:
		p--
	case Low:
		p++
	}
	return min(max(p, Highest), Lowest)
}

// SensorReplacementPriority is the priority of a sensor-replacement job: low, it is no emergency.
const SensorReplacementPriority = Lowest

// Due is how long after opening a job of the priority should be done.
func Due(priority int) time.Duration {
	return [...]time.Duration{4 * time.Hour, 8 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour}[min(max(priority, Highest), Lowest)-1]
}

// skillWords maps words in a health reason to the skill needed, checked in order.
var skillWords = []struct{ word, skill string }{
	{"vibration", "mechanical"},
	{"bearing", "mechanical"},
	{"temperature", "thermal"},
	{"pressure", "hydraulic"},
	{"current", "electrical"},
	{"voltage", "electrical"},
	{"power", "electrical"},
}

// SkillFor derives the skill a maintenance job needs from quality's health reason, e.g.
// "vibration +45% and temperature +12% over baseline" needs "mechanical" (the first signal
// named leads). A reason naming no known signal needs "general".
func SkillFor(reason string) string {
	r := strings.ToLower(reason)
	best, at := GeneralSkill, len(r)+1
	for _, w := range skillWords {
		if i := strings.Index(r, w.word); i >= 0 && i < at {
			best, at = w.skill, i
		}
	}
	return best
}

// GeneralSkill is the skill of a maintenance job whose reason names no known signal.
const GeneralSkill = "general"

// SensorSkill is the skill a sensor replacement needs.
const SensorSkill = "sensors"

// Durations of the job kinds on site.
const (
	// MaintenanceDuration is the planned time of a maintenance visit.
	MaintenanceDuration = 2 * time.Hour
	// SensorReplacementDuration is the planned time of a sensor replacement.
	SensorReplacementDuration = 30 * time.Minute
	// InspectionDuration is the planned time of an inspection: check the machine with a
	// reference instrument and the suspect sensor against it.
	InspectionDuration = time.Hour
	// EmergencyCalloutHours is what an emergency call-out costs in engineer hours (travel at short
	// notice, diagnosis, paperwork): what a faulty sensor's data alone would have caused.
	EmergencyCalloutHours = 6.0
)
