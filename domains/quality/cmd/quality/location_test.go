package main

import (
	"math"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
)

// violations lists the fields named by err's google.rpc.BadRequest details.
func violations(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestMachineLocation stores machines with and without a location over gRPC and reads them
// back with GetMachine and ListMachines as the callers scheduling uses (its service account,
// an engineer, a dispatcher): the location comes back exactly, and stays unset when none was
// given. Impossible coordinates are refused with field violations and store nothing.
func TestMachineLocation(t *testing.T) {
	t.Parallel()
	q := start(t)
	ctx := q.as(t, "service")
	at := &qualityv1.LatLng{Lat: 52.3712345, Lng: 4.8987654}
	for _, m := range []*qualityv1.Machine{
		{MachineId: "press-1", Site: "plant-1", Criticality: qualityv1.Criticality_CRITICALITY_HIGH, Location: at},
		{MachineId: "press-2", Site: "plant-1", Criticality: qualityv1.Criticality_CRITICALITY_LOW},
		{MachineId: "pole", Site: "edge", Criticality: qualityv1.Criticality_CRITICALITY_LOW, Location: &qualityv1.LatLng{Lat: -90, Lng: 180}},
	} {
		resp, err := q.client.CreateMachine(ctx, &qualityv1.CreateMachineRequest{Machine: m})
		if err != nil {
			t.Fatalf("create %s: %v", m.GetMachineId(), err)
		}
		if !proto.Equal(resp.GetMachine().GetLocation(), m.GetLocation()) {
			t.Fatalf("create %s: location %v, want %v", m.GetMachineId(), resp.GetMachine().GetLocation(), m.GetLocation())
		}
	}
	want := map[string]*qualityv1.LatLng{"press-1": at, "press-2": nil, "pole": {Lat: -90, Lng: 180}}
	for _, role := range []string{"service", "engineer", "dispatcher"} {
		for id, loc := range want {
			resp, err := q.client.GetMachine(q.as(t, role), &qualityv1.GetMachineRequest{MachineId: id})
			if err != nil {
				t.Fatalf("GetMachine %s as %s: %v", id, role, err)
			}
			if got := resp.GetMachine().GetLocation(); !proto.Equal(got, loc) {
				t.Errorf("GetMachine %s as %s: location %v, want %v", id, role, got, loc)
			}
		}
		list, err := q.client.ListMachines(q.as(t, role), &qualityv1.ListMachinesRequest{})
		if err != nil {
			t.Fatalf("ListMachines as %s: %v", role, err)
		}
		if len(list.GetMachines()) != len(want) {
			t.Fatalf("ListMachines as %s: %d machines, want %d", role, len(list.GetMachines()), len(want))
		}
		for _, m := range list.GetMachines() {
			if !proto.Equal(m.GetLocation(), want[m.GetMachineId()]) {
				t.Errorf("ListMachines as %s: %s at %v, want %v", role, m.GetMachineId(), m.GetLocation(), want[m.GetMachineId()])
			}
		}
	}

	bad := []struct {
		name string
		loc  *qualityv1.LatLng
		want []string
	}{
		{"lat above 90", &qualityv1.LatLng{Lat: 90.0001, Lng: 4.9}, []string{"machine.location.lat"}},
		{"lat below -90", &qualityv1.LatLng{Lat: -91, Lng: 4.9}, []string{"machine.location.lat"}},
		{"lng above 180", &qualityv1.LatLng{Lat: 52.37, Lng: 180.5}, []string{"machine.location.lng"}},
		{"lng below -180", &qualityv1.LatLng{Lat: 52.37, Lng: -181}, []string{"machine.location.lng"}},
		{"not a number", &qualityv1.LatLng{Lat: math.NaN(), Lng: math.NaN()}, []string{"machine.location.lat", "machine.location.lng"}},
		{"infinite", &qualityv1.LatLng{Lat: math.Inf(1), Lng: math.Inf(-1)}, []string{"machine.location.lat", "machine.location.lng"}},
	}
	for _, tt := range bad {
		_, err := q.client.CreateMachine(ctx, &qualityv1.CreateMachineRequest{Machine: &qualityv1.Machine{
			MachineId: "bad", Site: "plant-1", Criticality: qualityv1.Criticality_CRITICALITY_LOW, Location: tt.loc}})
		if status.Code(err) != codes.InvalidArgument || !slices.Equal(violations(err), tt.want) {
			t.Errorf("%s: %v (violations %v), want InvalidArgument naming %v", tt.name, err, violations(err), tt.want)
		}
	}
	if _, err := q.client.GetMachine(ctx, &qualityv1.GetMachineRequest{MachineId: "bad"}); status.Code(err) != codes.NotFound {
		t.Fatalf("a refused machine was stored: %v", err)
	}
}
