package readings

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"meshwork.dev/domains/quality/change"
)

// Status is a machine's health.
type Status int

// Health levels.
const (
	OK Status = iota + 1
	Warn
	Critical
	// Unconfirmed is "anomalous, unconfirmed": a possible failure the clean data can neither
	// confirm nor rule out because a sensor involved is declared faulty (see assess).
	Unconfirmed
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
	case Unconfirmed:
		return "ANOMALOUS_UNCONFIRMED"
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
	// Change tunes the CUSUM (package change) on each trended sensor's residual against its
	// load-aware baseline (Load); zero values take DefaultChange's.
	Change change.Params `json:"change,omitzero"`
	// Residual tunes the CUSUM instead when the input is the residual against load fits: it
	// is autocorrelated (a machine's thermal inertia, its noise), so a CUSUM tuned for one
	// series' independent noise would fire on it; zero values take DefaultResidual's.
	Residual change.Params `json:"residual,omitzero"`
	// Confirm is how many judged readings a change of a residual must last before it raises
	// the mark, so that a drift of the sensor against its peers, which the filters flag
	// meanwhile (Model, a median 191 readings into a faultgen drift), is that fault's and
	// not a failure (0: 200). A series judged on its own has no peers to wait for.
	Confirm int `json:"confirm,omitempty"`
	// LoadCalibration is how many clean readings learn a sensor's load fits (0: 1440).
	LoadCalibration int `json:"load_calibration,omitempty"`
	// Settle is how many readings after its last change a sensor judged on its own value (no
	// load sensor on its machine) takes its new level for normal (0: 250).
	Settle int `json:"settle,omitempty"`
}

// DefaultHealth is the default trend tuning.
var DefaultHealth = HealthConfig{Calibration: 1000, Smoothing: 30, Raise: 4, Lower: 2.5,
	Change: DefaultChange, Residual: DefaultResidual, Confirm: 200, LoadCalibration: 1440, Settle: 250}

// DefaultChange is the CUSUM on a value judged on its own: package change's defaults but
// for a higher alarm (12 scales rather than 8), chosen on the whole NAB corpus.
var DefaultChange = change.Params{Baseline: 400, Warmup: 150, Slack: 1.5, Alarm: 12, Spike: 6, Refractory: 250}

// DefaultResidual is the CUSUM on a residual against load fits.
var DefaultResidual = change.Params{Baseline: 1440, Warmup: 150, Slack: 3, Alarm: 16, Spike: 6, Refractory: 250}

// change returns the CUSUM parameters for an input judged on its own or as a residual,
// defaults for a state saved before they existed.
func (c HealthConfig) change(own bool) change.Params {
	p, d := c.Residual, DefaultResidual
	if own {
		p, d = c.Change, DefaultChange
	}
	if p.Validate() != nil {
		return d
	}
	return p
}

func (c HealthConfig) confirm() int {
	if c.Confirm <= 0 {
		return 200
	}
	return c.Confirm
}

func (c HealthConfig) loadCalibration() int {
	if c.LoadCalibration <= 0 {
		return 1440
	}
	return c.LoadCalibration
}

func (c HealthConfig) settle() int {
	if c.Settle <= 0 {
		return 250
	}
	return c.Settle
}

// Trend is one sensor's health state. Health is a sustained change of the sensor's residual
// against its load-aware baseline (Load; the value itself with no load sensor), found by a
// two-sided CUSUM (Change) and held while the level stays away from where it was (Ref). The
// normal learnt over calibration (N, Mean, M2) judges a declared-faulty sensor's data (shadow)
// and the clean average as before — more than Raise spreads from normal — until the CUSUM can
// judge (load fits or its warm-up still learning) and, on a sensor judged against its load,
// beside it: a change that large is raised without the CUSUM's confirmation.
type Trend struct {
	// N, Mean and M2 are Welford's running statistics over calibration.
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
	// Avg is the exponential average of recent clean values.
	Avg float64 `json:"avg"`
	// Elevated says the sensor trends away from normal, above or below (Z's sign says which).
	Elevated bool `json:"elevated"`
	// Z is the last score in spreads above normal (while elevated by the CUSUM: of Level
	// from Ref in the CUSUM's scale).
	Z float64 `json:"z"`
	// Load is the load-aware baseline (nil on a machine with no load sensor, or in a state
	// saved before it existed: learnt from the next readings).
	Load *Load `json:"load,omitempty"`
	// Change is the CUSUM on the judged input (nil until the first; then warming up).
	Change *change.Detector `json:"change,omitempty"`
	// Level is the exponential average (span Smoothing) of the judged input, restarted at
	// each change; Ref is the CUSUM's baseline before the change that raised Elevated; Since
	// counts readings since the last change while elevated.
	// Pending says a change was found and is being confirmed (HealthConfig.Confirm); Dir is
	// its direction, +1 or -1.
	Level   float64 `json:"level,omitempty"`
	Ref     float64 `json:"ref,omitempty"`
	Since   int     `json:"since,omitempty"`
	Pending bool    `json:"pending,omitempty"`
	Dir     float64 `json:"dir,omitempty"`
	// Legacy says Elevated was raised by the calibrated-normal rule (before the CUSUM could
	// judge, beside it on a sensor judged against its load, or in a state saved by the
	// version before the CUSUM): that rule clears it.
	Legacy bool `json:"legacy,omitempty"`
	// Shadowing says the sensor is declared faulty and its data is followed apart: Shadow is
	// the exponential average of its rolling median since the declaration (started from Avg),
	// ShadowZ its score against the normal learnt from clean data, and Unconfirmed marks a
	// sustained change either way (the same Raise and Lower as Elevated). The clean average
	// stays as it was, so a faulty sensor's data never becomes its normal.
	Shadowing   bool    `json:"shadowing,omitempty"`
	Shadow      float64 `json:"shadow,omitempty"`
	ShadowZ     float64 `json:"shadow_z,omitempty"`
	Unconfirmed bool    `json:"unconfirmed,omitempty"`
	// ShadowRef is the level a series judged on its own is taken to be normal at while it is
	// faulty, and ShadowSince how many readings its shadow has shown a change (shadow).
	ShadowRef   float64 `json:"shadow_ref,omitempty"`
	ShadowSince int     `json:"shadow_since,omitempty"`
	// Carried says the sensor was elevated by the CUSUM when it was declared faulty and its
	// data since still show that change (carry); CarryZ is how far, in the CUSUM's scale, and
	// CarryX the judged inputs of its last readings, newest last (at most carryWindow).
	Carried bool      `json:"carried,omitempty"`
	CarryZ  float64   `json:"carry_z,omitempty"`
	CarryX  []float64 `json:"carry_x,omitempty"`
}

// shadow follows a declared-faulty sensor's rolling median: robust to its spikes and noise,
// its level when it is stuck or drifts. A failure can be what got the sensor declared (a drop
// read as a fault), so its data is still evidence, though not evidence enough to confirm.
// w is the sensor's window: the change is judged against the normal spread or, when the
// sensor is noisier than that (a noise fault), against the standard error of the window's
// median, so that a noisy sensor's wandering median is not taken for a change.
//
// A series judged on its own value (own) takes a level that stays for its new normal, so once
// its CUSUM judges, the shadow is judged in the CUSUM's scale against ShadowRef, not against
// the normal learnt at the start: the level before the change when the CUSUM had raised the
// sensor (that change is carried: it stays evidence while the shadow stays Lower away), else
// the CUSUM's baseline (the level before the fault: the CUSUM learns nothing from a faulty
// sensor). A change seen in the shadow ends, as the CUSUM's does, when the shadow is back or
// has held its new level for Settle readings; that level is then the reference.
func (t *Trend) shadow(c HealthConfig, w *Window, floor float64, own bool) {
	byChange := own && t.Change != nil && t.Change.Scale() > 0 && !t.Legacy
	if !byChange && t.N < c.Calibration || w.Len() == 0 {
		return // no normal to compare with yet
	}
	med := w.Median()
	if !t.Shadowing {
		// A mark of the calibrated-normal rule is carried too: the shadow is judged against
		// the same normal.
		t.Shadowing, t.Shadow, t.Unconfirmed, t.ShadowSince = true, t.Avg, t.Elevated && (t.Legacy || byChange), 0
		if byChange {
			t.Shadow, t.ShadowRef = med, t.Change.Baseline()
			if t.Elevated {
				t.ShadowRef = t.Ref
			}
		}
	}
	alpha := 2 / float64(c.Smoothing+1)
	t.Shadow += alpha * (med - t.Shadow)
	se := madScale * w.MAD(med) * 1.25 / math.Sqrt(float64(w.Len()))
	if !byChange {
		t.ShadowZ = (t.Shadow - t.Mean) / max(math.Sqrt(t.M2/float64(t.N)), floor, se)
		t.Unconfirmed = c.mark(t.Unconfirmed, t.ShadowZ)
		return
	}
	sd := max(t.Change.Scale(), se)
	if t.N > 1 {
		sd = max(sd, math.Sqrt(t.M2/float64(t.N))) // what the series wanders over, not only its noise
	}
	t.ShadowZ = (t.Shadow - t.ShadowRef) / sd
	t.Unconfirmed = c.mark(t.Unconfirmed, t.ShadowZ)
	if t.Unconfirmed {
		t.ShadowSince++
	}
	if t.Unconfirmed && t.ShadowSince > c.settle() {
		t.ShadowRef, t.ShadowZ, t.Unconfirmed = t.Shadow, 0, false // its new normal
	}
	if !t.Unconfirmed {
		t.ShadowSince, t.Elevated = 0, false // a change carried into the fault is over
	}
}

// mark applies the hysteresis: a mark is raised beyond Raise spreads either way and cleared
// within Lower.
func (c HealthConfig) mark(on bool, z float64) bool {
	z = math.Abs(z)
	return !on && z > c.Raise || on && z >= c.Lower
}

// carryWindow is how many of a faulty sensor's last judged inputs carry takes the median of.
const carryWindow = 15

// carry follows a change the CUSUM found on a sensor judged against its load before the
// sensor was declared faulty, on x, the residual of one of its readings since: a fault never
// hides a change already under way. The median of the last carryWindow residuals, robust to
// the fault's spikes and noise, is the sensor's level; the change stays evidence (Carried:
// the machine is anomalous, unconfirmed, not OK) while that level stays at least Lower scales
// from what the load explains, and is over, as a clean sensor's would be, once it is back.
// (A series judged on its own carries its change in shadow.)
func (t *Trend) carry(c HealthConfig, x float64) {
	sc := t.Change.Scale()
	if sc == 0 {
		return
	}
	if len(t.CarryX) == carryWindow {
		t.CarryX = append(t.CarryX[:0], t.CarryX[1:]...)
	}
	t.CarryX = append(t.CarryX, x)
	t.CarryZ = (median(slices.Clone(t.CarryX)) - t.Ref) / sc
	// Until half the window is in, the change is taken to hold: one noisy reading says nothing.
	t.Carried = len(t.CarryX) <= carryWindow/2 || t.CarryZ*t.Dir >= c.Lower
	if !t.Carried {
		t.Elevated = false // the change is over, as far as its data show
	}
}

// endShadow forgets the shadow when the sensor's fault clears: its clean data speaks again.
func (t *Trend) endShadow() {
	t.Shadowing, t.Shadow, t.ShadowZ, t.Unconfirmed = false, 0, 0, false
	t.ShadowRef, t.ShadowSince, t.Carried, t.CarryZ, t.CarryX = 0, 0, false, 0, nil
}

// observe adds a clean value v: it calibrates the normal and applies the calibrated-normal
// rule while the CUSUM cannot judge (ready false) and, beside the CUSUM, on a sensor judged
// against its load (own false): a change that large needs no confirmation.
func (t *Trend) observe(c HealthConfig, v float64, floor float64, ready, own bool) {
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
	if t.Change == nil && t.Elevated {
		t.Legacy = true // a mark saved by the version before the CUSUM
	}
	if ready && own && !t.Legacy {
		return
	}
	sd := max(math.Sqrt(t.M2/float64(t.N)), floor)
	z := (t.Avg - t.Mean) / sd
	// A sustained change either way is evidence: a failure shows as a drop as often as a rise
	// (NAB's machine_temperature_system_failure fails downwards).
	if t.Legacy || !t.Elevated {
		t.Legacy = c.mark(t.Legacy || t.Elevated, z)
		t.Elevated, t.Z = t.Legacy, z
	}
}

// judge feeds the CUSUM the input x (a residual in spreads, or the value when own): a
// sustained change raises Elevated, measured from the level before it; the mark clears once
// Settle readings have passed since the last change and the level is back within Lower scales
// of it — or, when own, whatever the level: with no load to explain it, a level that stays is
// the series' new normal, as the CUSUM's baseline takes it to be.
// It reports whether the CUSUM is past its warm-up.
func (t *Trend) judge(c HealthConfig, x float64, own bool) bool {
	if t.Change == nil {
		t.Change, t.Level = change.New(c.change(own)), x
		t.Legacy = t.Legacy || t.Elevated // a mark saved by the version before the CUSUM
	}
	res := t.Change.Observe(x)
	sc := t.Change.Scale()
	if sc == 0 {
		t.Level = x
		return false
	}
	t.Level += 2 / float64(c.Smoothing+1) * (x - t.Level)
	if res.Up || res.Down {
		if !t.Elevated && !t.Pending || t.Legacy {
			// A residual's normal is 0, what the load explains; a series on its own has
			// only the level it had before.
			t.Ref, t.Pending, t.Dir = 0, true, 1
			if own {
				t.Ref = res.From
			}
			if res.Down {
				t.Dir = -1
			}
		}
		t.Legacy, t.Level, t.Since = false, x, 0
	}
	if t.Legacy {
		return true // the calibrated-normal rule holds the mark until it clears
	}
	if !t.Elevated && !t.Pending {
		t.Z = (t.Level - res.From) / sc
		return true
	}
	t.Since++
	t.Z = (t.Level - t.Ref) / sc
	switch {
	case t.Pending && t.Z*t.Dir < c.change(own).Slack:
		t.Pending = false // it did not last: the level is back within the CUSUM's allowance
	case t.Pending && (own || t.Since >= c.confirm()):
		t.Pending, t.Elevated = false, true
	case t.Elevated && own && t.Since > c.settle():
		t.Elevated = false
	case t.Elevated && !own && t.Since > c.Smoothing && math.Abs(t.Z) < c.Lower:
		t.Elevated = false // back to what the load explains
	}
	return true
}

// veto drops a change the filters explain as the sensor's own drift against its peers: a
// fault (published on quality.sensor-faults.v1, its data then judged by shadow), not a
// failure. A mark of the calibrated-normal rule stays with that rule.
func (t *Trend) veto() {
	if !t.Legacy {
		t.Pending, t.Elevated = false, false
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

// trended are the kinds whose change means wear.
var trended = map[Kind]bool{Temperature: true, Vibration: true}

// partner is the kind that corroborates a change of each trended kind.
var partner = map[Kind]Kind{Temperature: Vibration, Vibration: Temperature}

// assess derives the machine status, first match wins:
//
//   - CRITICAL: a vibration sensor AND a temperature sensor, neither declared faulty, elevated
//     (up or down) together — two sensors of two kinds — so a lone sensor, faulty or not, can
//     never make CRITICAL;
//   - ANOMALOUS_UNCONFIRMED: a declared-faulty sensor whose own data shows a sustained change
//     (Trend.Unconfirmed), or a healthy sensor elevated while every sensor of the kind that would
//     corroborate it is declared faulty: a faulty sensor never hides a change;
//   - WARN: some healthy sensor elevated;
//   - OK otherwise.
func assess(m *Machine) (Status, string, []string) {
	var temp, vib, faulty bool
	var ids []string
	for id, s := range m.Sensors {
		faulty = faulty || s.Detector.Faulty
		if s.Detector.Faulty || !s.Trend.Elevated {
			continue
		}
		temp = temp || s.Filter.Spec.Kind == Temperature
		vib = vib || s.Filter.Spec.Kind == Vibration
		ids = append(ids, id)
	}
	// Both unconfirmed cases need a faulty sensor; most readings find none and skip them.
	if faulty {
		if st, reason, ev := unconfirmed(m, ids, temp && vib); st == Unconfirmed {
			return st, reason, ev
		}
	}
	if len(ids) == 0 {
		return OK, "all clean signals within normal range", nil
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		// The kind leads, so a reader (scheduling's skill) knows what rises without the registry.
		parts = append(parts, fmt.Sprintf("%s %s %+.1fσ", m.Sensors[id].Filter.Spec.Kind, id, m.Sensors[id].Trend.Z))
	}
	reason := strings.Join(parts, ", ")
	rise, rising := "rise", "rising"
	for _, id := range ids {
		if m.Sensors[id].Trend.sign() < 0 {
			rise, rising = "change", "changing"
		}
	}
	if temp && vib {
		return Critical, "vibration and temperature " + rising + " together: " + reason, ids
	}
	return Warn, "uncorroborated " + rise + ": " + reason, ids
}

// unconfirmed reports Unconfirmed with its reason and evidence when a declared-faulty sensor
// is behind a possible failure; elevated are the healthy elevated sensors and critical says
// they already make CRITICAL (which faulty sensors cannot weaken).
func unconfirmed(m *Machine, elevated []string, critical bool) (Status, string, []string) {
	if critical {
		return 0, "", nil
	}
	var ids, parts []string
	for id, s := range m.Sensors {
		if s.Detector.Faulty && (s.Trend.Unconfirmed || s.Trend.Carried) {
			ids = append(ids, id)
		}
	}
	for _, id := range elevated {
		k := m.Sensors[id].Filter.Spec.Kind
		if by := faultyPartners(m, partner[k]); len(by) > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, "", nil
	}
	sort.Strings(ids)
	evidence := append([]string(nil), ids...)
	for _, id := range ids {
		s := m.Sensors[id]
		k := s.Filter.Spec.Kind
		switch {
		case s.Detector.Faulty && s.Trend.Unconfirmed:
			parts = append(parts, fmt.Sprintf("%s %s declared faulty (%s) but its data %s %+.1fσ",
				k, id, s.Detector.Fault, direction(s.Trend.ShadowZ), s.Trend.ShadowZ))
			continue
		case s.Detector.Faulty:
			parts = append(parts, fmt.Sprintf("%s %s declared faulty (%s) during a change its data still show: %s %+.1fσ",
				k, id, s.Detector.Fault, direction(s.Trend.CarryZ), s.Trend.CarryZ))
			continue
		}
		by := faultyPartners(m, partner[k])
		named := make([]string, len(by))
		for i, p := range by {
			named[i] = fmt.Sprintf("%s (%s)", p, m.Sensors[p].Detector.Fault)
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %+.1fσ with no %s sensor to corroborate it: %s declared faulty",
			k, id, direction(s.Trend.sign()), s.Trend.Z, partner[k], strings.Join(named, ", ")))
		evidence = append(evidence, by...)
	}
	return Unconfirmed, "anomalous, unconfirmed: " + strings.Join(parts, "; "), dedupe(evidence)
}

// faultyPartners lists, in id order, the sensors of kind k when there is at least one and
// every one is declared faulty; otherwise nil (a healthy sensor of k speaks for itself).
func faultyPartners(m *Machine, k Kind) []string {
	var out []string
	for id, s := range m.Sensors {
		if s.Filter.Spec.Kind != k {
			continue
		}
		if !s.Detector.Faulty {
			return nil
		}
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// sign is the direction of the sensor's change: the CUSUM's when it raised the mark, else Z's.
func (t *Trend) sign() float64 {
	if t.Dir != 0 && !t.Legacy {
		return t.Dir
	}
	return t.Z
}

func direction(z float64) string {
	if z < 0 {
		return "dropped"
	}
	return "rose"
}

// dedupe sorts ids and drops repeats.
func dedupe(ids []string) []string {
	sort.Strings(ids)
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}
