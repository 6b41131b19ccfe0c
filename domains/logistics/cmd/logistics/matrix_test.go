package main

import (
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/stream"
)

// routeEvents returns the ids of the routes on logistics.routes.v1, oldest first.
func routeEvents(t *testing.T, u *underTest) []string {
	t.Helper()
	s, err := u.js.Stream(u.ctx, stream.Routes.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(u.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(u.ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var r logisticsv1.PlannedRoute
		if err := proto.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.GetRouteId())
	}
	return ids
}

// TestTravelMatrixAgreesWithPlanRoute asks a service account's travel matrix, then PlanRoute for
// every pair: each entry's ETA equals PlanRoute's for the same points and departure, points
// outside the service area are marked per entry, and logistics.routes.v1 holds exactly the
// routes PlanRoute planned, none from the matrix.
func TestTravelMatrixAgreesWithPlanRoute(t *testing.T) {
	u := start(t, nil)
	ctx := u.as(t, "service")
	paris := &logisticsv1.LatLng{Lat: 48.85, Lng: 2.35}
	origins := []*logisticsv1.LatLng{amsterdam, {Lat: 52.385, Lng: 4.93}, {Lat: 52.355, Lng: 4.87}}
	destinations := []*logisticsv1.LatLng{{Lat: 52.39, Lng: 4.93}, amsterdam, {Lat: 52.36, Lng: 4.95}, paris}
	at := time.Date(2026, 11, 24, 8, 30, 0, 0, time.UTC)
	before := routeEvents(t, u)

	resp, err := u.client.GetTravelMatrix(ctx, &logisticsv1.GetTravelMatrixRequest{Origins: origins, Destinations: destinations, DepartAt: timestamppb.New(at)})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetEntries(); len(got) != len(origins)*len(destinations) || !resp.GetDepartAt().AsTime().Equal(at) {
		t.Fatalf("%d entries departing %v, want %d at %v", len(got), resp.GetDepartAt().AsTime(), len(origins)*len(destinations), at)
	}
	var planned []string
	for i, o := range origins {
		for j, d := range destinations {
			e := resp.GetEntries()[i*len(destinations)+j]
			if d == paris {
				if e.GetStatus() != logisticsv1.TravelStatus_TRAVEL_STATUS_OUTSIDE_AREA || e.GetEta() != nil {
					t.Errorf("origin %d → Paris: %v, want OUTSIDE_AREA without an eta", i, e)
				}
				continue
			}
			r, err := u.client.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: o, Destination: d, DepartAt: timestamppb.New(at)})
			if err != nil {
				t.Fatal(err)
			}
			planned = append(planned, r.GetRouteId())
			want, got := r.GetEta().AsDuration(), e.GetEta().AsDuration()
			if e.GetStatus() != logisticsv1.TravelStatus_TRAVEL_STATUS_OK || math.Abs(float64(got-want)) > 1e-6*float64(want)+1 {
				t.Errorf("origin %d → destination %d: matrix %v (%v), PlanRoute %v", i, j, got, e.GetStatus(), want)
			}
			if want > 0 && (e.GetDistanceM() <= 0 || math.Abs(e.GetDistanceM()-r.GetDistanceM()) > 0.05*r.GetDistanceM()) {
				t.Errorf("origin %d → destination %d: matrix %.0f m, PlanRoute %.0f m", i, j, e.GetDistanceM(), r.GetDistanceM())
			}
		}
	}
	if len(planned) == 0 || resp.GetEntries()[0].GetEta().AsDuration() <= 0 {
		t.Fatalf("nothing to compare: %v", resp.GetEntries())
	}

	// PlanRoute publishes asynchronously: wait until its routes have landed. The matrix was asked
	// first on the same service, so a route of its own would be on the stream by then.
	var after []string
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if after = routeEvents(t, u); len(after) >= len(before)+len(planned) {
			break
		}
	}
	if added := after[min(len(before), len(after)):]; !slices.Equal(added, planned) {
		t.Fatalf("logistics.routes.v1 gained %d routes %v, want exactly PlanRoute's %d %v", len(added), added, len(planned), planned)
	}
}
