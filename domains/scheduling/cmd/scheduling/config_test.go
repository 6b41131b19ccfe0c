package main

import (
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/scheduling/job"
)

func TestEngineerDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		skills, home, shift string
		wantVars            []string // variables named in the error
		check               func(job.Engineer) bool
	}{
		{name: "unset", check: func(e job.Engineer) bool { return e.Skills == nil && e.Shifts == nil && e.Home == (job.LatLng{}) }},
		{name: "all day", skills: "mechanical, sensors", home: "52.37,4.90", shift: "00:00-24:00", check: func(e job.Engineer) bool {
			return len(e.Skills) == 2 && e.Skills[1] == "sensors" && e.Home == (job.LatLng{Lat: 52.37, Lng: 4.90}) &&
				len(e.Shifts) == 7 && e.Shifts[3] == (job.Shift{Weekday: time.Wednesday, Start: 0, End: 1440})
		}},
		{name: "day shift", shift: "07:30-16:00", check: func(e job.Engineer) bool {
			return len(e.Shifts) == 7 && e.Shifts[0].Start == 450 && e.Shifts[0].End == 960
		}},
		{name: "bad home", home: "52.37", wantVars: []string{"NEW_ENGINEER_HOME"}},
		{name: "home out of range", home: "95,4", wantVars: []string{"NEW_ENGINEER_HOME"}},
		{name: "bad shift", shift: "9-17", wantVars: []string{"NEW_ENGINEER_SHIFT"}},
		{name: "shift ends before it starts", shift: "17:00-09:00", wantVars: []string{"NEW_ENGINEER_SHIFT"}},
		{name: "both bad", home: "x", shift: "25:00-26:00", wantVars: []string{"NEW_ENGINEER_HOME", "NEW_ENGINEER_SHIFT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := engineerDefaults(tt.skills, tt.home, tt.shift)
			if len(tt.wantVars) == 0 {
				if err != nil || !tt.check(e) {
					t.Fatalf("engineerDefaults = %+v, %v", e, err)
				}
				return
			}
			for _, v := range tt.wantVars {
				if err == nil || !strings.Contains(err.Error(), v) {
					t.Errorf("error %v does not name %s", err, v)
				}
			}
		})
	}
}
