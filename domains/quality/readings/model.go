package readings

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Model judges drift of a sensor that has no peer of its kind: its value is predicted from a
// sensor of another kind on the same machine (which shares the machine's load) and the time of
// day (a daily cycle), by least squares over its first Config.ModelCalibration clean readings
// (each other sensor tried, the two that explain it best kept). A drift is a bias growing away
// from that prediction: the residual, in the calibration's spreads, averaged exponentially
// (span modelSpan), beyond Config.ModelThreshold against both kept peers in the same direction,
// with the median of the last five residuals at least half as far (so the flags stop when the
// value comes back). Two peers must agree so that one peer's own drift is not taken for this
// sensor's. Readings are judged only while both peers are fresh and clean; after a gap (a peer
// out for more than five intervals) the last five residuals start again from the first reading
// judged, the average keeping its memory.
type Model struct {
	// Fits are the candidate fits while calibrating, by peer id; Peers the two kept after.
	Fits  map[string]*Fit `json:"fits,omitempty"`
	Peers []*Fit          `json:"peers,omitempty"`
	// N counts the clean readings calibrated on.
	N int `json:"n"`
}

// Fit is one least-squares prediction of the sensor from a peer: y ≈ W·(1, peer, sin, cos of
// the time of day).
type Fit struct {
	Peer string        `json:"peer"`
	A    [4][4]float64 `json:"a,omitempty"`
	B    [4]float64    `json:"b,omitempty"`
	YY   float64       `json:"yy,omitempty"`
	N    int           `json:"n,omitempty"`
	W    [4]float64    `json:"w"`
	// SD is the residual spread over the calibration; Avg the exponential average of the
	// residual in SDs; Last the last five residuals in SDs.
	SD   float64    `json:"sd"`
	Avg  float64    `json:"avg"`
	Last [5]float64 `json:"last"`
	// At is when Avg and Last were last updated (Unix ns; 0 before the first judged reading).
	At int64 `json:"at,omitempty"`
}

// modelSpan is the span, in readings, of the residual's exponential average.
const modelSpan = 30

// daily is the sine and cosine of the time of day of t (Unix ns, UTC).
func daily(t int64) (sin, cos float64) {
	return math.Sincos(2 * math.Pi * float64(t%int64(24*time.Hour)) / float64(24*time.Hour))
}

// median5 is the median of five values.
func median5(v [5]float64) float64 {
	for i := 1; i < 5; i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	return v[2]
}

// peerValue is the last value of sensor p if it is fresh (within one interval of t), clean
// and its sensor not faulty.
func (m *Machine) peerValue(p string, t int64) (float64, bool) {
	s, ok := m.Sensors[p]
	if !ok || s.Detector.Faulty || s.Filter.LastFlags&bad != 0 || s.Filter.Count == 0 {
		return 0, false
	}
	iv := int64(s.Filter.Spec.Interval)
	if d := t - s.Filter.LastTime; iv <= 0 || d < -iv || d > iv {
		return 0, false
	}
	return s.Filter.LastValue, true
}

// modelDrift learns the sensor's model from a clean reading (flags holds its other checks)
// and, once learnt, says whether the reading drifted.
func (m *Machine) modelDrift(id string, s *SensorState, r Reading, flags Flag) bool {
	c := s.Filter.Config
	if c.ModelCalibration <= 0 || c.ModelThreshold <= 0 || flags&OutOfRange != 0 {
		return false
	}
	if s.Model == nil {
		s.Model = &Model{Fits: map[string]*Fit{}}
	}
	md := s.Model
	if md.Peers == nil {
		if flags&bad != 0 {
			return false
		}
		md.calibrate(m, id, r)
		return false
	}
	if flags&bad != 0 {
		// Another fault explains the reading (a stuck value is far from the prediction too):
		// it is that fault's, not evidence of drift.
		return false
	}
	hits, sign := 0, 0.0
	sn, cs := daily(r.Time)
	for _, f := range md.Peers {
		pv, ok := m.peerValue(f.Peer, r.Time)
		if !ok {
			return false
		}
		z := f.residual(r.Value, pv, sn, cs)
		f.Avg += 2 / float64(modelSpan+1) * (z - f.Avg)
		if iv := int64(s.Filter.Spec.Interval); f.At != 0 && iv > 0 && r.Time-f.At > int64(len(f.Last))*iv {
			// The last residuals are from before a gap (a peer stale, flagged or faulty):
			// they say where the sensor was, not where it is — a drift that ended meanwhile
			// would go on being flagged until they left the median.
			f.Last = [5]float64{z, z, z, z, z}
		} else {
			copy(f.Last[:], f.Last[1:])
			f.Last[4] = z
		}
		f.At = r.Time
		med := median5(f.Last)
		if math.Abs(f.Avg) > c.ModelThreshold && math.Abs(med) > c.ModelThreshold/2 && med*f.Avg > 0 && sign*f.Avg >= 0 {
			hits++
			sign = f.Avg
		}
	}
	return hits == len(md.Peers) && !m.wearAgainst(s, md)
}

// realigns says whether r brings a sensor back in line with its model after the sensor had
// moved away from it — an offset growing that the model has not flagged as drift, or had. A
// sensor whose drift ends (set right, recalibrated) jumps back to the truth; judged on its own,
// that jump looks like a spike (faultgen: 57 false spike detections in six seeds were the
// reading after a drift, most while a peer was itself flagged, so that the model could not
// flag the drift). So: r's residual within half the drift threshold against every fit whose
// peer is fresh and clean (at least one), and against one of them its residual's exponential
// average at least half the threshold away and more than twice r's. A spike goes the other
// way, away from the prediction.
func (m *Machine) realigns(s *SensorState, r Reading) bool {
	md, c := s.Model, s.Filter.Config
	if md == nil || len(md.Peers) == 0 || c.ModelThreshold <= 0 {
		return false
	}
	if math.Abs(md.Peers[0].Avg) < c.ModelThreshold/2 && (len(md.Peers) < 2 || math.Abs(md.Peers[1].Avg) < c.ModelThreshold/2) {
		return false // in line all along: most readings stop here
	}
	sn, cs := daily(r.Time)
	seen, away := false, false
	for _, f := range md.Peers {
		pv, ok := m.peerValue(f.Peer, r.Time)
		if !ok {
			continue
		}
		z := f.residual(r.Value, pv, sn, cs)
		if math.Abs(z) > c.ModelThreshold/2 {
			return false
		}
		seen = true
		away = away || math.Abs(f.Avg) >= c.ModelThreshold/2 && math.Abs(z) <= math.Abs(f.Avg)/2
	}
	return seen && away
}

// wearAgainst says whether a load sensor's model peers are all trended sensors (temperature,
// vibration) whose own residual against the load moves beyond the CUSUM's allowance: then
// they moved, not the load sensor — what a failure looks like on a machine of a temperature,
// a vibration and a current sensor, where the current's only peers are the two that wear.
func (m *Machine) wearAgainst(s *SensorState, md *Model) bool {
	if !loadKind(s.Filter.Spec.Kind) {
		return false
	}
	for _, f := range md.Peers {
		p := m.Sensors[f.Peer]
		if p == nil || !trended[p.Filter.Spec.Kind] || p.Trend.Load == nil || len(p.Trend.Load.Peers) == 0 ||
			math.Abs(p.Trend.Level) < m.Health.change(false).Slack {
			return false
		}
	}
	return true
}

// calibrate adds a clean reading to the fit against every fresh, clean other sensor; at
// ModelCalibration readings it keeps the two best fits (smallest residual spread), or starts
// over when fewer than two peers were seen enough.
func (md *Model) calibrate(m *Machine, id string, r Reading) {
	if md.Fits == nil {
		md.Fits = map[string]*Fit{} // an empty map is not saved
	}
	sn, cs := daily(r.Time)
	for p := range m.Sensors {
		if p == id {
			continue
		}
		pv, ok := m.peerValue(p, r.Time)
		if !ok {
			continue
		}
		f := md.Fits[p]
		if f == nil {
			f = &Fit{Peer: p}
			md.Fits[p] = f
		}
		x := [4]float64{1, pv, sn, cs}
		for i := range 4 {
			for k := range 4 {
				f.A[i][k] += x[i] * x[k]
			}
			f.B[i] += x[i] * r.Value
		}
		f.YY += r.Value * r.Value
		f.N++
	}
	md.N++
	if md.N < m.Sensors[id].Filter.Config.ModelCalibration {
		return
	}
	var fits []*Fit
	for _, f := range md.Fits {
		if f.N*2 >= md.N && f.solve() {
			fits = append(fits, f)
		}
	}
	if len(fits) < 2 {
		md.Fits, md.N = map[string]*Fit{}, 0
		return
	}
	slices.SortFunc(fits, func(a, b *Fit) int { return cmp.Or(cmp.Compare(a.SD, b.SD), cmp.Compare(a.Peer, b.Peer)) })
	md.Peers, md.Fits = fits[:2], nil
	for _, f := range md.Peers {
		// A quantised sensor's residual is no finer than its resolution.
		f.SD = max(f.SD, m.Sensors[id].Filter.Spec.Resolution)
		f.A, f.B, f.YY = [4][4]float64{}, [4]float64{}, 0
	}
}

// solve fits W by Gaussian elimination with partial pivoting and sets SD; false when the
// system is singular (a flat peer) or the fit explains nothing measurable.
func (f *Fit) solve() bool {
	a, b := f.A, f.B
	for i := range 4 {
		p := i
		for k := i + 1; k < 4; k++ {
			if math.Abs(a[k][i]) > math.Abs(a[p][i]) {
				p = k
			}
		}
		if math.Abs(a[p][i]) < 1e-9*float64(f.N) {
			return false
		}
		a[i], a[p] = a[p], a[i]
		b[i], b[p] = b[p], b[i]
		for k := i + 1; k < 4; k++ {
			q := a[k][i] / a[i][i]
			for c := i; c < 4; c++ {
				a[k][c] -= q * a[i][c]
			}
			b[k] -= q * b[i]
		}
	}
	for i := 3; i >= 0; i-- {
		s := b[i]
		for c := i + 1; c < 4; c++ {
			s -= a[i][c] * f.W[c]
		}
		f.W[i] = s / a[i][i]
	}
	ssr := f.YY
	for i := range 4 {
		ssr -= f.W[i] * f.B[i]
	}
	f.SD = math.Sqrt(max(ssr, 0) / float64(f.N))
	return f.SD > 0 && !math.IsNaN(f.SD)
}

// residual is how far v is from the fit's prediction at peer value pv and time of day
// (sn, cs), in the fit's calibration spreads.
func (f *Fit) residual(v, pv, sn, cs float64) float64 {
	return (v - dot(f.W, [4]float64{1, pv, sn, cs})) / f.SD
}

func dot(w, x [4]float64) float64 { return w[0]*x[0] + w[1]*x[1] + w[2]*x[2] + w[3]*x[3] }
