// Package position validates vehicle GPS pings and decides, per vehicle, whether each one is new,
// a duplicate, late (out of order) or an impossible jump. It performs no I/O.
package position

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/platform/errs"
)

// Ping is one GPS report of a vehicle.
type Ping struct {
	Vehicle    string
	At         time.Time
	Lat, Lng   float64
	SpeedMPS   float64
	HeadingDeg float64
}

// Limits bound what a ping may say.
type Limits struct {
	// MaxSkew is how far in the future a ping may be stamped. Default 2 minutes.
	MaxSkew time.Duration
	// MaxAge is how old a ping may be. Default 24 hours.
	MaxAge time.Duration
	// MaxSpeedMPS is the speed above which a jump between two pings is impossible. Default 70.
	MaxSpeedMPS float64
}

func (l Limits) withDefaults() Limits {
	if l.MaxSkew <= 0 {
		l.MaxSkew = 2 * time.Minute
	}
	if l.MaxAge <= 0 {
		l.MaxAge = 24 * time.Hour
	}
	if l.MaxSpeedMPS <= 0 {
		l.MaxSpeedMPS = 70
	}
	return l
}

// ValidVehicleID reports whether id may name a vehicle: 1–64 characters of letters, digits,
// '-' and '_' (it becomes a NATS subject token and a Redis key).
func ValidVehicleID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
}

// ValidLatLng returns the violations of a point, naming fields under prefix (e.g. "origin").
func ValidLatLng(prefix string, lat, lng float64) []errs.Violation {
	var v []errs.Violation
	if math.IsNaN(lat) || lat < -90 || lat > 90 {
		v = append(v, errs.Violation{Field: prefix + ".lat", Description: "must be between -90 and 90"})
	}
	if math.IsNaN(lng) || lng < -180 || lng > 180 {
		v = append(v, errs.Violation{Field: prefix + ".lng", Description: "must be between -180 and 180"})
	}
	return v
}

// Validate checks a ping against now; the error is errs.Invalid with one violation per field.
func (l Limits) Validate(p Ping, now time.Time) error {
	const op = "position.Validate"
	l = l.withDefaults()
	var v []errs.Violation
	if !ValidVehicleID(p.Vehicle) {
		v = append(v, errs.Violation{Field: "vehicle_id", Description: "must be 1-64 letters, digits, '-' or '_'"})
	}
	switch {
	case p.At.IsZero():
		v = append(v, errs.Violation{Field: "recorded_at", Description: "is required"})
	case p.At.After(now.Add(l.MaxSkew)):
		v = append(v, errs.Violation{Field: "recorded_at", Description: fmt.Sprintf("is more than %s in the future", l.MaxSkew)})
	case p.At.Before(now.Add(-l.MaxAge)):
		v = append(v, errs.Violation{Field: "recorded_at", Description: fmt.Sprintf("is more than %s old", l.MaxAge)})
	}
	v = append(v, ValidLatLng("position", p.Lat, p.Lng)...)
	if math.IsNaN(p.SpeedMPS) || p.SpeedMPS < 0 || p.SpeedMPS > 150 {
		v = append(v, errs.Violation{Field: "speed_mps", Description: "must be between 0 and 150"})
	}
	if math.IsNaN(p.HeadingDeg) || p.HeadingDeg < 0 || p.HeadingDeg >= 360 {
		v = append(v, errs.Violation{Field: "heading_deg", Description: "must be in [0, 360)"})
	}
	if len(v) > 0 {
		return errs.BadRequest(op, v...)
	}
	return nil
}

// Verdict is what the Filter decided about a ping.
type Verdict int

// Verdicts of Filter.Check.
const (
	// New is the vehicle's latest ping.
	New Verdict = iota + 1
	// Late is older than the vehicle's latest but not seen before: published, but not the
	// live position and not used for learning.
	Late
	// Duplicate was seen before (same vehicle and time) and is dropped.
	Duplicate
)

// Check is the outcome of Filter.Check.
type Check struct {
	Verdict Verdict
	// Suspect is set when reaching the ping from the previous latest one needs more than
	// MaxSpeedMPS: a GPS glitch or a wrong vehicle id. The ping is kept and flagged.
	Suspect bool

	// prev is the vehicle's latest ping before this one (for Undo); first marks its first ping.
	prev  Ping
	first bool
}

// Filter remembers, per vehicle, the latest ping and a window of recent timestamps. It is safe
// for concurrent use.
type Filter struct {
	limits Limits
	window int
	mu     sync.Mutex
	state  map[string]*recent
}

type recent struct {
	latest Ping
	seen   map[int64]struct{}
	order  []int64
}

// NewFilter returns a filter remembering the last window timestamps of each vehicle.
func NewFilter(l Limits, window int) *Filter {
	if window <= 0 {
		window = 64
	}
	return &Filter{limits: l.withDefaults(), window: window, state: map[string]*recent{}}
}

// Check classifies a valid ping and records it.
func (f *Filter) Check(p Ping) Check {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.state[p.Vehicle]
	key := p.At.UnixNano()
	if r == nil {
		r = &recent{latest: p, seen: map[int64]struct{}{}}
		f.state[p.Vehicle] = r
		r.remember(key, f.window)
		return Check{Verdict: New, first: true}
	}
	if _, dup := r.seen[key]; dup {
		return Check{Verdict: Duplicate}
	}
	r.remember(key, f.window)
	if !p.At.After(r.latest.At) {
		return Check{Verdict: Late}
	}
	dt := p.At.Sub(r.latest.At).Seconds()
	d := route.GreatCircleM(h3.NewLatLng(r.latest.Lat, r.latest.Lng), h3.NewLatLng(p.Lat, p.Lng))
	prev := r.latest
	r.latest = p
	return Check{Verdict: New, Suspect: d > f.limits.MaxSpeedMPS*dt && d > 100, prev: prev}
}

// Undo forgets a ping that Check recorded but that could not be stored or published, so a
// retry of it is processed again instead of being dropped as a duplicate. The vehicle's latest
// ping goes back to what it was, unless a newer ping has arrived since.
func (f *Filter) Undo(p Ping, c Check) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.state[p.Vehicle]
	if r == nil || c.Verdict == Duplicate {
		return
	}
	key := p.At.UnixNano()
	delete(r.seen, key)
	for i, k := range r.order {
		if k == key {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	if c.Verdict == New && r.latest.At.Equal(p.At) {
		if c.first {
			delete(f.state, p.Vehicle)
			return
		}
		r.latest = c.prev
	}
}

func (r *recent) remember(key int64, window int) {
	r.seen[key] = struct{}{}
	r.order = append(r.order, key)
	if len(r.order) > window {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
}
