package job

import (
	"testing"
	"time"
)

func TestPriority(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c    Criticality
		h    Health
		want int
	}{
		{High, Critical, 1}, {Medium, Critical, 2}, {Low, Critical, 3},
		{High, Warn, 3}, {Medium, Warn, 4}, {Low, Warn, 5}, {Medium, OK, 5},
	}
	for _, c := range cases {
		if got := Priority(c.c, c.h); got != c.want {
			t.Errorf("Priority(%v, %v) = %d, want %d", c.c, c.h, got, c.want)
		}
	}
	if Due(1) >= Due(5) {
		t.Errorf("Due(1) = %v not sooner than Due(5) = %v", Due(1), Due(5))
	}
}

func TestSkillFor(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"vibration +45% and temperature +12% over baseline": "mechanical",
		"temperature +12% and vibration +45%":               "thermal",
		"Motor CURRENT high":                                "electrical",
		"hydraulic pressure dropping":                       "hydraulic",
		"something odd":                                     "general",
		"":                                                  "general",
	}
	for reason, want := range cases {
		if got := SkillFor(reason); got != want {
			t.Errorf("SkillFor(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestDecideHealth(t *testing.T) {
	t.Parallel()
	open := &Incident{JobID: "j", Health: Warn, Priority: 4}
	cases := []struct {
		name   string
		open   *Incident
		h      Health
		action Action
		prio   int
		cause  Cause
	}{
		{"warn opens", nil, Warn, OpenJob, 4, HealthWarn},
		{"critical opens", nil, Critical, OpenJob, 2, HealthCritical},
		{"same state again is one incident", open, Warn, Nothing, 4, HealthWarn},
		{"escalates", open, Critical, Reprioritize, 2, HealthCritical},
		{"de-escalates", &Incident{Health: Critical, Priority: 2}, Warn, Reprioritize, 4, HealthWarn},
		{"recovery closes", open, OK, CloseJob, 4, HealthRecovered},
		{"recovery without incident", nil, OK, Nothing, 0, HealthRecovered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := DecideHealth(c.open, Medium, c.h)
			if d.Action != c.action || d.Priority != c.prio || d.Cause != c.cause {
				t.Errorf("got %+v, want action %v priority %d cause %v", d, c.action, c.prio, c.cause)
			}
		})
	}
}

func TestWindows(t *testing.T) {
	t.Parallel()
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	e := Engineer{Shifts: []Shift{{Weekday: time.Monday, Start: 8 * 60, End: 16 * 60}, {Weekday: time.Tuesday, Start: 8 * 60, End: 12 * 60}}}
	ws := e.Windows(mon.Add(10*time.Hour), mon.Add(48*time.Hour))
	if len(ws) != 2 {
		t.Fatalf("windows = %v, want 2", ws)
	}
	if !ws[0].Start.Equal(mon.Add(10*time.Hour)) || !ws[0].End.Equal(mon.Add(16*time.Hour)) {
		t.Errorf("first window %v, want clipped 10:00-16:00", ws[0])
	}
	if !ws[1].Start.Equal(mon.Add(32*time.Hour)) || !ws[1].End.Equal(mon.Add(36*time.Hour)) {
		t.Errorf("second window %v, want Tuesday 08:00-12:00", ws[1])
	}
}

func TestWindowsLeaveOutBusyTimes(t *testing.T) {
	t.Parallel()
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	e := Engineer{Shifts: []Shift{{Weekday: time.Monday, Start: 8 * 60, End: 16 * 60}},
		Busy: []Window{{Start: mon.Add(10 * time.Hour), End: mon.Add(11 * time.Hour)}, {Start: mon.Add(15 * time.Hour), End: mon.Add(17 * time.Hour)}}}
	ws := e.Windows(mon, mon.Add(24*time.Hour))
	want := [][2]int{{8, 10}, {11, 15}}
	if len(ws) != len(want) {
		t.Fatalf("windows %v, want %v", ws, want)
	}
	for i, w := range want {
		if !ws[i].Start.Equal(mon.Add(time.Duration(w[0])*time.Hour)) || !ws[i].End.Equal(mon.Add(time.Duration(w[1])*time.Hour)) {
			t.Errorf("window %d = %v, want %v", i, ws[i], w)
		}
	}
}

// TestDecideUnconfirmed: an anomalous, unconfirmed health opens an inspection — neither a
// maintenance call-out nor nothing — ranked between WARN and CRITICAL; escalation turns it into
// maintenance, and maintenance never turns back into an inspection.
func TestDecideUnconfirmed(t *testing.T) {
	t.Parallel()
	insp := &Incident{JobID: "j", Kind: Inspection, Health: Unconfirmed, Priority: 3}
	maint := &Incident{JobID: "j", Kind: Maintenance, Health: Warn, Priority: 4}
	cases := []struct {
		name   string
		open   *Incident
		h      Health
		action Action
		kind   Kind
		prio   int
		cause  Cause
	}{
		{"unconfirmed opens an inspection", nil, Unconfirmed, OpenJob, Inspection, 3, HealthUnconfirmed},
		{"unconfirmed again is one incident", insp, Unconfirmed, Nothing, Inspection, 3, HealthUnconfirmed},
		{"confirmed WARN makes it maintenance", insp, Warn, Reprioritize, Maintenance, 4, HealthWarn},
		{"confirmed CRITICAL makes it urgent maintenance", insp, Critical, Reprioritize, Maintenance, 2, HealthCritical},
		{"WARN losing its corroborator stays maintenance", maint, Unconfirmed, Reprioritize, Maintenance, 3, HealthUnconfirmed},
		{"recovery closes the inspection", insp, OK, CloseJob, Inspection, 3, HealthRecovered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := DecideHealth(c.open, Medium, c.h)
			if d.Action != c.action || d.Kind != c.kind || d.Priority != c.prio || d.Cause != c.cause {
				t.Errorf("got %+v, want action %v kind %v priority %d cause %v", d, c.action, c.kind, c.prio, c.cause)
			}
		})
	}
	if p := []int{Priority(Medium, Warn), Priority(Medium, Unconfirmed), Priority(Medium, Critical)}; !(p[0] > p[1] && p[1] > p[2]) {
		t.Errorf("priorities WARN, UNCONFIRMED, CRITICAL = %v, want strictly rising urgency", p)
	}
	if Duration(Inspection) >= Duration(Maintenance) || Duration(Inspection) <= 0 {
		t.Errorf("inspection %v, maintenance %v: want a shorter, non-zero inspection", Duration(Inspection), Duration(Maintenance))
	}
}
