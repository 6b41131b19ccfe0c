package readings

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// SensorState is everything kept for one sensor.
type SensorState struct {
	// Filter holds the check state.
	Filter *Filter `json:"filter"`
	// Detector holds the fault state.
	Detector Detector `json:"detector"`
	// Trend holds the health state.
	Trend Trend `json:"trend"`
	// DriftN and DriftBase learn the sensor's normal offset from its peers.
	DriftN    int     `json:"drift_n"`
	DriftBase float64 `json:"drift_base"`
	// Model predicts the sensor from other kinds and the time of day, for drift without peers
	// of its kind (nil until the first reading it learns from).
	Model *Model `json:"model,omitempty"`
}

// Machine is the filter state of one machine's sensors, processed in order. Drift and health
// look across sensors, so one machine's readings go through one Machine.
type Machine struct {
	// ID is the machine id.
	ID string `json:"id"`
	// Health tunes the trend detector.
	Health HealthConfig `json:"health"`
	// Sensors by id.
	Sensors map[string]*SensorState `json:"sensors"`
	// Status is the last published health, Reason why, Evidence the sensors behind it and
	// Since the sample time (Unix ns) it was assessed.
	Status   Status   `json:"status"`
	Reason   string   `json:"reason,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
	Since    int64    `json:"since,omitempty"`
	// SilentAfter is the earliest sample time at which a sensor counts as silent (see
	// checkSilence); 0 means unknown.
	SilentAfter int64 `json:"silent_after,omitempty"`
}

// NewMachine returns an empty machine.
func NewMachine(id string, h HealthConfig) *Machine {
	return &Machine{ID: id, Health: h, Sensors: map[string]*SensorState{}, Status: OK}
}

// AddSensor registers a sensor with its kind's config.
func (m *Machine) AddSensor(s Spec, c Config) {
	m.Sensors[s.ID] = &SensorState{Filter: NewFilter(s, c)}
}

// Result is what one reading produces.
type Result struct {
	// Flags are the checks it failed; Value the value to use.
	Flags Flag
	Value float64
	// Faulty says whether the sensor is declared faulty after it.
	Faulty bool
	// Fault is set when the sensor became faulty or recovered.
	Fault *FaultEvent
	// Silent are other sensors of the machine declared dropped out at this reading (in
	// sensor id order): silent for longer than their SilenceFactor allows.
	Silent []FaultEvent
	// Health is set when the machine's health changed.
	Health *HealthEvent
}

// Process runs every check on r, updates fault and health state and returns the outcome.
func (m *Machine) Process(r Reading) (Result, error) {
	s, ok := m.Sensors[r.Sensor]
	if !ok {
		return Result{}, fmt.Errorf("readings.Process: unknown sensor %q on machine %q", r.Sensor, m.ID)
	}
	if m.realigns(s, r) {
		s.Filter.ExpectRealign()
	}
	flags, use := s.Filter.Check(r)
	if m.drifted(r.Sensor, s) || m.modelDrift(r.Sensor, s, r, flags) {
		flags |= Drift
		s.Filter.RecordFlags(Drift) // the next reading is judged knowing this one drifted
		use = s.Filter.LastValue
		if flags&(bad&^Drift) == 0 {
			// The value is plausible on its own; report it but flag it.
			use = r.Value
		}
	}
	res := Result{Flags: flags, Value: use}
	if ev := s.Detector.Observe(r.Time, flags); ev != nil {
		ev.Sensor, ev.Machine = r.Sensor, m.ID
		res.Fault = ev
		m.SilentAfter = 0 // a cleared sensor is watched again
	}
	if s.Filter.Count == 1 {
		m.SilentAfter = 0 // a new sensor is watched from now
	}
	res.Faulty = s.Detector.Faulty
	// A reading that ends a gap of its own sensor does not judge the others: after a
	// machine-wide outage (a gateway down) every sensor comes back with such a reading, and
	// none of them is silent, only late.
	if flags&Dropout == 0 {
		res.Silent = m.checkSilence(r.Time)
	}
	if trended[s.Filter.Spec.Kind] {
		switch {
		case s.Detector.Faulty:
			// Its data is no longer clean, but still evidence (assess).
			x, own, ok := m.faultyInput(r.Sensor, s, r)
			s.Trend.shadow(m.Health, s.Filter.Window, s.Filter.Config.MinScale, ok && own)
			switch t := &s.Trend; {
			case !t.Elevated || t.Legacy || t.Change == nil || t.Load == nil || len(t.Load.Peers) == 0:
				// Not in a change, or judged on its own value: the shadow carries that.
			case ok:
				t.carry(m.Health, x)
			case len(t.CarryX) == 0:
				// Judged against its load, but no residual yet (a load sensor stale or
				// flagged): the change is taken to hold until one says otherwise.
				t.Carried = true
			}
		case flags&Drift != 0:
			s.Trend.veto()
		case flags&bad == 0:
			x, own, ok := m.healthInput(r.Sensor, s, r)
			ready := ok && s.Trend.judge(m.Health, x, own)
			s.Trend.observe(m.Health, r.Value, s.Filter.Config.MinScale, ready, own)
		}
		if !s.Detector.Faulty && s.Trend.Shadowing {
			s.Trend.endShadow()
		}
	}
	st, reason, ids := assess(m)
	// A new status, or the same one on other evidence (another sensor, or another finding of
	// the same sensors, behind an unconfirmed status), is a change; new σ figures are not.
	if st != m.Status || !slices.Equal(ids, m.Evidence) || st == Unconfirmed && !sameWords(reason, m.Reason) {
		m.Status, m.Reason, m.Evidence, m.Since = st, reason, ids, r.Time
		res.Health = &HealthEvent{Machine: m.ID, Status: st, Reason: reason, Sensors: ids, Time: r.Time}
	}
	return res, nil
}

// drifted compares the sensor's offset from the consensus of its kind on this machine with
// the offset it learned. It needs the sensor and at least two non-faulty peers with full
// windows, so the consensus (a median of three or more) is not pulled by one drifting sensor.
func (m *Machine) drifted(id string, s *SensorState) bool {
	c := s.Filter.Config
	if c.DriftTolerance <= 0 || !s.Filter.Window.Full() {
		return false
	}
	if s.DriftN < c.DriftCalibration {
		s.calibrate(m, id)
		return false
	}
	var offs []float64
	for pid, p := range m.Sensors {
		if pid == id || p.Filter.Spec.Kind != s.Filter.Spec.Kind || p.Detector.Faulty ||
			!p.Filter.Window.Full() || p.DriftN < c.DriftCalibration {
			continue
		}
		offs = append(offs, p.Filter.Median-p.DriftBase)
	}
	if len(offs) < 2 {
		return false
	}
	mine := s.Filter.Median - s.DriftBase
	consensus := median(append(offs, mine))
	return math.Abs(mine-consensus) > c.DriftTolerance
}

// calibrate learns the sensor's normal offset from the mean level of its kind's peers.
func (s *SensorState) calibrate(m *Machine, id string) {
	var sum float64
	n := 0
	for pid, p := range m.Sensors {
		if pid != id && p.Filter.Spec.Kind == s.Filter.Spec.Kind && p.Filter.Window.Full() {
			sum += p.Filter.Median
			n++
		}
	}
	if n < 2 {
		return
	}
	d := s.Filter.Median - sum/float64(n)
	s.DriftN++
	s.DriftBase += (d - s.DriftBase) / float64(s.DriftN)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return medianSorted(v)
}

// sameWords says whether two reasons read the same but for their figures.
func sameWords(a, b string) bool {
	figure := func(r rune) bool { return r >= '0' && r <= '9' || r == '.' || r == '+' || r == '-' }
	for {
		a, b = strings.TrimLeftFunc(a, figure), strings.TrimLeftFunc(b, figure)
		i, j := strings.IndexFunc(a, figure), strings.IndexFunc(b, figure)
		if i < 0 || j < 0 {
			return i == j && a == b
		}
		if a[:i] != b[:j] {
			return false
		}
		a, b = a[i:], b[j:]
	}
}
