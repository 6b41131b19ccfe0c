package job

// Incident is the open maintenance job of a machine: one per incident, however many health
// events it sees.
type Incident struct {
	// JobID is the open job.
	JobID string
	// Health is the health the job was last opened or escalated for.
	Health Health
	// Priority is the job's priority.
	Priority int
}

// Action is what to do with a machine's maintenance job after a health change.
type Action int

// The actions.
const (
	// Nothing changes.
	Nothing Action = iota + 1
	// OpenJob opens a new maintenance job.
	OpenJob
	// Reprioritize changes the open job's priority (escalate or de-escalate).
	Reprioritize
	// CloseJob cancels the open job: health recovered.
	CloseJob
)

// Decision is a health change turned into an action with its cause.
type Decision struct {
	// Action to take.
	Action Action
	// Priority of the job after the action.
	Priority int
	// Cause of the decision.
	Cause Cause
}

// DecideHealth turns a machine's new health into a decision, given its open incident (nil when
// none): WARN or CRITICAL opens one job per incident, a change between them reprioritises it,
// OK closes it.
func DecideHealth(open *Incident, c Criticality, h Health) Decision {
	cause := HealthWarn
	if h == Critical {
		cause = HealthCritical
	}
	switch {
	case h != Warn && h != Critical:
		if open == nil {
			return Decision{Action: Nothing, Cause: HealthRecovered}
		}
		return Decision{Action: CloseJob, Priority: open.Priority, Cause: HealthRecovered}
	case open == nil:
		return Decision{Action: OpenJob, Priority: Priority(c, h), Cause: cause}
	case open.Health == h:
		return Decision{Action: Nothing, Priority: open.Priority, Cause: cause}
	default:
		return Decision{Action: Reprioritize, Priority: Priority(c, h), Cause: cause}
	}
}
