package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
)

var fallbacksMetric = regexp.MustCompile(`(?m)^scheduling_travel_fallbacks_total(?:\{[^}]*\})? (\S+)$`)

// fallbacks scrapes /metrics for scheduling_travel_fallbacks_total (-1 when it is missing).
func (u *underTest) fallbacks(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get("http://" + u.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := fallbacksMetric.FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTravelFallbacksAreExported: the counter is exported at zero, and a job planned for an
// engineer whose home lies outside logistics' area (the fake's) counts estimated travel times.
func TestTravelFallbacksAreExported(t *testing.T) {
	t.Parallel()
	u := start(t)
	if n := u.fallbacks(t); n != 0 {
		t.Fatalf("scheduling_travel_fallbacks_total %v before any plan, want 0", n)
	}
	disp := u.as(t, "dispatcher")
	u.engineer(t, disp, "engineer-1", "Nils", &schedulingv1.LatLng{Lat: 69.6, Lng: 18.9}, "mechanical")
	if _, err := u.client.CreateJob(disp, &schedulingv1.CreateJobRequest{MachineId: "press-1", Priority: 2, RequiredSkill: "mechanical",
		DurationMinutes: 60, Reason: "annual service"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "fallbacks counted on /metrics", func() bool { return u.fallbacks(t) > 0 })
}
