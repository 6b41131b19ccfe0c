package position_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/platform/errs"
)

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ok := position.Ping{Vehicle: "van-1", At: now, Lat: 52.3, Lng: 4.9, SpeedMPS: 10, HeadingDeg: 90}
	tests := []struct {
		name  string
		edit  func(*position.Ping)
		field string
	}{
		{"valid", func(*position.Ping) {}, ""},
		{"lat high", func(p *position.Ping) { p.Lat = 91 }, "position.lat"},
		{"lat NaN", func(p *position.Ping) { p.Lat = math.NaN() }, "position.lat"},
		{"lng low", func(p *position.Ping) { p.Lng = -180.5 }, "position.lng"},
		{"future", func(p *position.Ping) { p.At = now.Add(time.Hour) }, "recorded_at"},
		{"ancient", func(p *position.Ping) { p.At = now.Add(-48 * time.Hour) }, "recorded_at"},
		{"missing time", func(p *position.Ping) { p.At = time.Time{} }, "recorded_at"},
		{"bad vehicle", func(p *position.Ping) { p.Vehicle = "a.b" }, "vehicle_id"},
		{"negative speed", func(p *position.Ping) { p.SpeedMPS = -1 }, "speed_mps"},
		{"heading 360", func(p *position.Ping) { p.HeadingDeg = 360 }, "heading_deg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := ok
			tt.edit(&p)
			err := position.Limits{}.Validate(p, now)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err %v, want Invalid", err)
			}
			if !slices.ContainsFunc(errs.Violations(err), func(v errs.Violation) bool { return v.Field == tt.field }) {
				t.Fatalf("violations %v do not name %s", errs.Violations(err), tt.field)
			}
		})
	}
}

func TestFilterDuplicatesOrderAndJumps(t *testing.T) {
	t.Parallel()
	f := position.NewFilter(position.Limits{}, 4)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ping := func(sec int, lat float64) position.Ping {
		return position.Ping{Vehicle: "v", At: t0.Add(time.Duration(sec) * time.Second), Lat: lat, Lng: 4.9}
	}
	steps := []struct {
		p       position.Ping
		verdict position.Verdict
		suspect bool
	}{
		{ping(0, 52.30), position.New, false},
		{ping(10, 52.301), position.New, false},
		{ping(10, 52.301), position.Duplicate, false},
		{ping(5, 52.3005), position.Late, false},
		{ping(5, 52.3005), position.Duplicate, false},
		{ping(20, 52.50), position.New, true}, // 22 km in 10 s
		{ping(30, 52.5001), position.New, false},
	}
	for i, s := range steps {
		got := f.Check(s.p)
		if got.Verdict != s.verdict || got.Suspect != s.suspect {
			t.Fatalf("step %d: %+v, want verdict %d suspect %v", i, got, s.verdict, s.suspect)
		}
	}
}
