package readings

import (
	"cmp"
	"math"
	"slices"
)

// Load is the load-aware baseline of a trended sensor (temperature, vibration): its value
// predicted from the machine's load sensors — every sensor of a kind that is not trended
// (current, pressure, running) — and the time of day, by least squares over its first
// HealthConfig.LoadCalibration clean readings, the two fits with the smallest residual spread
// kept (a Fit each, as Model does for drift). Health judges the residual against them rather
// than the value: a load step moves the load sensor too, so it leaves the residual flat, while
// a failure (wear, overheating) moves temperature or vibration with no change in load. With
// two fits the residual judged is the one both agree on (the smaller, in residual spreads, when
// they have the same sign, else 0), so one load sensor's own fault is not the machine's.
// A machine without load sensors (a NAB series) has no Load: health judges the value itself
// against its own slow baseline.
type Load struct {
	// Fits are the candidate fits while calibrating, by peer id; Peers the fits kept after.
	Fits  map[string]*Fit `json:"fits,omitempty"`
	Peers []*Fit          `json:"peers,omitempty"`
	// N counts the clean readings calibrated on; Done says calibration is over (with no
	// Peers when no load sensor explained anything: the value itself is judged).
	N    int  `json:"n"`
	Done bool `json:"done,omitempty"`
}

// loadKind says whether sensors of kind k carry the machine's load rather than its wear.
func loadKind(k Kind) bool { return !trended[k] }

// hasLoad says whether the machine has a load sensor besides id.
func (m *Machine) hasLoad(id string) bool {
	for p, s := range m.Sensors {
		if p != id && loadKind(s.Filter.Spec.Kind) {
			return true
		}
	}
	return false
}

// healthInput is what health judges of a clean reading r of the trended sensor s: the residual
// against its load fits (in residual spreads), or r's value on a machine with no load sensor.
// own says the value itself is judged; ok is false while the fits are learnt or when a load
// sensor it needs is stale, flagged or faulty at r.
func (m *Machine) healthInput(id string, s *SensorState, r Reading) (x float64, own, ok bool) {
	t := &s.Trend
	if t.Load == nil {
		if !m.hasLoad(id) {
			return r.Value, true, true
		}
		t.Load = &Load{}
	}
	ld := t.Load
	if !ld.Done {
		ld.calibrate(m, id, r, m.Health.loadCalibration())
		return 0, false, false
	}
	if len(ld.Peers) == 0 {
		return r.Value, true, true
	}
	sn, cs := daily(r.Time)
	for i, f := range ld.Peers {
		pv, fresh := m.peerValue(f.Peer, r.Time)
		if !fresh {
			return 0, false, false
		}
		z := f.residual(r.Value, pv, sn, cs)
		switch {
		case i == 0:
			x = z
		case z*x <= 0:
			x = 0
		case math.Abs(z) < math.Abs(x):
			x = z
		}
	}
	return x, false, true
}

// faultyInput is healthInput for a reading of a declared-faulty sensor, learning nothing
// from it (no load fit is calibrated on faulty data).
func (m *Machine) faultyInput(id string, s *SensorState, r Reading) (float64, bool, bool) {
	if ld := s.Trend.Load; ld == nil && m.hasLoad(id) || ld != nil && !ld.Done {
		return 0, false, false
	}
	return m.healthInput(id, s, r)
}

// calibrate adds a clean reading to the fit against every fresh, clean load sensor; after n
// readings it keeps the two best fits (fewer when fewer load sensors were seen for at least
// half of them, none when none was: then the value itself is judged).
func (ld *Load) calibrate(m *Machine, id string, r Reading, n int) {
	if ld.Fits == nil {
		ld.Fits = map[string]*Fit{} // an empty map is not saved
	}
	sn, cs := daily(r.Time)
	for p, s := range m.Sensors {
		if p == id || !loadKind(s.Filter.Spec.Kind) {
			continue
		}
		pv, ok := m.peerValue(p, r.Time)
		if !ok {
			continue
		}
		f := ld.Fits[p]
		if f == nil {
			f = &Fit{Peer: p}
			ld.Fits[p] = f
		}
		f.add([4]float64{1, pv, sn, cs}, r.Value)
	}
	ld.N++
	if ld.N < n {
		return
	}
	var fits []*Fit
	for _, f := range ld.Fits {
		if f.N*2 >= ld.N && f.solve() {
			fits = append(fits, f)
		}
	}
	slices.SortFunc(fits, func(a, b *Fit) int { return cmp.Or(cmp.Compare(a.SD, b.SD), cmp.Compare(a.Peer, b.Peer)) })
	if len(fits) > 2 {
		fits = fits[:2]
	}
	for _, f := range fits {
		// A quantised sensor's residual is no finer than its resolution.
		f.SD = max(f.SD, m.Sensors[id].Filter.Spec.Resolution)
		f.A, f.B, f.YY = [4][4]float64{}, [4]float64{}, 0
	}
	ld.Peers, ld.Fits, ld.Done = fits, nil, true
}

// add accumulates one observation y at x into the normal equations.
func (f *Fit) add(x [4]float64, y float64) {
	for i := range 4 {
		for k := range 4 {
			f.A[i][k] += x[i] * x[k]
		}
		f.B[i] += x[i] * y
	}
	f.YY += y * y
	f.N++
}
