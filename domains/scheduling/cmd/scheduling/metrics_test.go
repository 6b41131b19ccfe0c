package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/domains/scheduling/stream"
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
	u.publish(t, stream.Users, "engineer-1", &identityv1.UserChanged{UserId: "engineer-1", DisplayName: "Nils",
		Kind: identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED, Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER}, Active: true})
	eventually(t, "engineer from identity", func() bool {
		_, err := u.client.GetEngineer(disp, &schedulingv1.GetEngineerRequest{Id: "engineer-1"})
		return err == nil
	})
	var shifts []*schedulingv1.Shift
	for d := range int32(7) {
		shifts = append(shifts, &schedulingv1.Shift{Weekday: d, StartMinute: 0, EndMinute: 1440})
	}
	if _, err := u.client.UpdateEngineer(disp, &schedulingv1.UpdateEngineerRequest{Engineer: &schedulingv1.Engineer{Id: "engineer-1",
		Skills: []string{"mechanical"}, HomeBase: &schedulingv1.LatLng{Lat: 69.6, Lng: 18.9}, Shifts: shifts}}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.client.CreateJob(disp, &schedulingv1.CreateJobRequest{MachineId: "press-1", Priority: 2, RequiredSkill: "mechanical",
		DurationMinutes: 60, Reason: "annual service"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "fallbacks counted on /metrics", func() bool { return u.fallbacks(t) > 0 })
}
