package job

import (
	"slices"
	"time"
)

// Shift is a weekly working window in UTC.
type Shift struct {
	// Weekday the shift is on.
	Weekday time.Weekday
	// Start is minutes after midnight.
	Start int
	// End is minutes after midnight, after Start.
	End int
}

// Window is a concrete working window.
type Window struct {
	// Start of the window.
	Start time.Time
	// End of the window.
	End time.Time
}

// Engineer is a service engineer in planning.
type Engineer struct {
	// ID is the engineer's user id.
	ID string
	// Skills the engineer has.
	Skills []string
	// Home is where the engineer starts the day.
	Home LatLng
	// Shifts are the weekly shifts.
	Shifts []Shift
	// Busy are times already booked, taken out of the shifts when planning.
	Busy []Window
}

// Has reports whether the engineer has the skill.
func (e Engineer) Has(skill string) bool { return slices.Contains(e.Skills, skill) }

// Windows returns the engineer's shifts between from and to as concrete windows, in order.
func (e Engineer) Windows(from, to time.Time) []Window {
	var out []Window
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		for _, s := range e.Shifts {
			if s.Weekday != day.Weekday() || s.End <= s.Start {
				continue
			}
			w := Window{Start: day.Add(time.Duration(s.Start) * time.Minute), End: day.Add(time.Duration(s.End) * time.Minute)}
			w.Start = maxTime(w.Start, from)
			w.End = minTime(w.End, to)
			if w.End.After(w.Start) {
				out = append(out, subtract(w, e.Busy)...)
			}
		}
	}
	slices.SortFunc(out, func(a, b Window) int { return a.Start.Compare(b.Start) })
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// subtract returns w without the busy windows.
func subtract(w Window, busy []Window) []Window {
	out := []Window{w}
	for _, b := range busy {
		var next []Window
		for _, x := range out {
			if !b.Start.Before(x.End) || !b.End.After(x.Start) {
				next = append(next, x)
				continue
			}
			if b.Start.After(x.Start) {
				next = append(next, Window{Start: x.Start, End: b.Start})
			}
			if b.End.Before(x.End) {
				next = append(next, Window{Start: b.End, End: x.End})
			}
		}
		out = next
	}
	return out
}
