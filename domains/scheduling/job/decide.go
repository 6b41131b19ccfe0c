package job

import "time"

// Incident is the open incident job of a machine — an inspection or a maintenance job — one per
// incident, however many health events it sees.
type Incident struct {
	// JobID is the open job.
	JobID string
	// Kind is Inspection or Maintenance.
	Kind Kind
	// Health is the health the job was last opened or escalated for.
	Health Health
	// Priority is the job's priority.
	Priority int
}

// Action is what to do with a machine's incident job after a health change.
type Action int

// The actions.
const (
	// Nothing changes.
	Nothing Action = iota + 1
	// OpenJob opens a new incident job.
	OpenJob
	// Reprioritize changes the open job's priority (escalate or de-escalate), and its kind
	// from Inspection to Maintenance when the health escalates to WARN or CRITICAL.
	Reprioritize
	// CloseJob cancels the open job: health recovered.
	CloseJob
)

// Decision is a health change turned into an action with its cause.
type Decision struct {
	// Action to take.
	Action Action
	// Kind of the job after the action (zero for Nothing without a job).
	Kind Kind
	// Priority of the job after the action.
	Priority int
	// Cause of the decision.
	Cause Cause
}

// DecideHealth turns a machine's new health into a decision, given its open incident (nil when
// none): WARN or CRITICAL opens one maintenance job per incident, ANOMALOUS_UNCONFIRMED an
// inspection; a change between them reprioritises it, and an inspection whose health escalates
// to WARN or CRITICAL becomes maintenance (a maintenance job never turns back into an
// inspection: what was confirmed once needs the visit); OK closes it.
func DecideHealth(open *Incident, c Criticality, h Health) Decision {
	var cause Cause
	kind := Maintenance
	switch h {
	case Warn:
		cause = HealthWarn
	case Critical:
		cause = HealthCritical
	case Unconfirmed:
		cause, kind = HealthUnconfirmed, Inspection
	default:
		if open == nil {
			return Decision{Action: Nothing, Cause: HealthRecovered}
		}
		return Decision{Action: CloseJob, Kind: open.Kind, Priority: open.Priority, Cause: HealthRecovered}
	}
	switch {
	case open == nil:
		return Decision{Action: OpenJob, Kind: kind, Priority: Priority(c, h), Cause: cause}
	case open.Kind == Maintenance:
		kind = Maintenance
	}
	if open.Health == h {
		return Decision{Action: Nothing, Kind: open.Kind, Priority: open.Priority, Cause: cause}
	}
	return Decision{Action: Reprioritize, Kind: kind, Priority: Priority(c, h), Cause: cause}
}

// Duration is the planned time on site of an incident job of kind k.
func Duration(k Kind) time.Duration {
	if k == Inspection {
		return InspectionDuration
	}
	return MaintenanceDuration
}
