package readings

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// A sensor that stops sending produces no reading to flag, so its silence is judged in event
// time by the machine's other sensors: when a reading of the machine at time t is processed,
// every sensor of the machine whose last sample is older than t − SilenceFactor × its
// expected interval is declared faulty with the dropout fault. The decision depends only on
// the readings processed and the saved state, so a re-run after a restart declares the same
// sensors at the same readings. The sensor clears like any dropout fault: once it is back,
// after History readings without a dropout flag.

// silenceDeadline is the sample time after which s counts as silent, and whether it is
// watched at all: it must have sent once, have an interval and a factor, and not be faulty
// already (a faulty sensor that goes quiet stays declared with its own fault).
func (s *SensorState) silenceDeadline() (int64, bool) {
	f := s.Filter
	k, iv := f.Config.SilenceFactor, f.Spec.Interval
	if f.LastTime == 0 || k <= 0 || iv <= 0 || s.Detector.Faulty {
		return 0, false
	}
	return f.LastTime + int64(k*float64(iv)), true
}

// checkSilence declares every watched sensor whose deadline is before t, in sensor id order.
// SilentAfter caches the earliest deadline so most readings cost one comparison; a deadline
// only moves later with its sensor's readings, and the events that can bring one earlier (a
// sensor's first reading, a clearance) reset the cache.
func (m *Machine) checkSilence(t int64) []FaultEvent {
	if m.SilentAfter != 0 && t <= m.SilentAfter {
		return nil
	}
	ids := make([]string, 0, len(m.Sensors))
	for id := range m.Sensors {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []FaultEvent
	next := int64(math.MaxInt64)
	for _, id := range ids {
		s := m.Sensors[id]
		deadline, ok := s.silenceDeadline()
		switch {
		case !ok:
		case t > deadline:
			out = append(out, s.Detector.declareSilent(id, m.ID, s.Filter, t))
		default:
			next = min(next, deadline)
		}
	}
	m.SilentAfter = next
	return out
}

// declareSilent marks the sensor faulty with the dropout fault since its last sample.
func (d *Detector) declareSilent(sensor, machine string, f *Filter, t int64) FaultEvent {
	d.Faulty, d.Fault, d.Since = true, Dropout, f.LastTime
	gap := time.Duration(t - f.LastTime)
	return FaultEvent{Sensor: sensor, Machine: machine, Fault: Dropout, Since: f.LastTime,
		Evidence: fmt.Sprintf("silent for %v (more than %g expected intervals of %v) while the machine's other sensors sent",
			gap, f.Config.SilenceFactor, f.Spec.Interval)}
}
