package main

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
)

// TestRules calls every RPC allowed, with a role it does not grant, and without a token. It fails
// if a method of the service is missing from the table.
func TestRules(t *testing.T) {
	u := start(t, nil)
	c := u.client
	type call func(ctx context.Context) error
	table := map[string]struct {
		allowed, denied string
		call            call
	}{
		"CreateVehicle": {"dispatcher", "engineer", func(ctx context.Context) error {
			_, err := c.CreateVehicle(ctx, &logisticsv1.CreateVehicleRequest{Vehicle: &logisticsv1.Vehicle{
				Id: "rules-van", Type: logisticsv1.VehicleType_VEHICLE_TYPE_VAN, CapacityKg: 800, HomeDepot: amsterdam}})
			return err
		}},
		"GetVehicle": {"admin", "analyst", func(ctx context.Context) error {
			_, err := c.GetVehicle(ctx, &logisticsv1.GetVehicleRequest{Id: "rules-van"})
			return err
		}},
		"UpdateVehicle": {"dispatcher", "service", func(ctx context.Context) error {
			_, err := c.UpdateVehicle(ctx, &logisticsv1.UpdateVehicleRequest{Vehicle: &logisticsv1.Vehicle{
				Id: "rules-van", Type: logisticsv1.VehicleType_VEHICLE_TYPE_TRUCK, CapacityKg: 900, HomeDepot: amsterdam}})
			return err
		}},
		"ListVehicles": {"dispatcher", "engineer", func(ctx context.Context) error {
			_, err := c.ListVehicles(ctx, &logisticsv1.ListVehiclesRequest{})
			return err
		}},
		"DeleteVehicle": {"admin", "engineer", func(ctx context.Context) error {
			_, err := c.DeleteVehicle(ctx, &logisticsv1.DeleteVehicleRequest{Id: "rules-van"})
			return err
		}},
		"IngestPositions": {"service", "dispatcher", func(ctx context.Context) error {
			s, err := c.IngestPositions(ctx)
			if err != nil {
				return err
			}
			_, err = s.CloseAndRecv()
			return err
		}},
		"PlanRoute": {"engineer", "analyst", func(ctx context.Context) error {
			_, err := c.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: amsterdam, Destination: &logisticsv1.LatLng{Lat: 52.38, Lng: 4.92}})
			return err
		}},
		"OptimizeStops": {"dispatcher", "analyst", func(ctx context.Context) error {
			_, err := c.OptimizeStops(ctx, &logisticsv1.OptimizeStopsRequest{Start: amsterdam, Stops: []*logisticsv1.LatLng{{Lat: 52.38, Lng: 4.92}}})
			return err
		}},
		"GetTravelMatrix": {"service", "analyst", func(ctx context.Context) error {
			_, err := c.GetTravelMatrix(ctx, &logisticsv1.GetTravelMatrixRequest{Origins: []*logisticsv1.LatLng{amsterdam}, Destinations: []*logisticsv1.LatLng{{Lat: 52.38, Lng: 4.92}}})
			return err
		}},
		"NearestVehicles": {"dispatcher", "engineer", func(ctx context.Context) error {
			_, err := c.NearestVehicles(ctx, &logisticsv1.NearestVehiclesRequest{Point: amsterdam, K: 3})
			return err
		}},
	}
	methods := logisticsv1.File_mesh_logistics_v1_logistics_proto.Services().ByName("LogisticsService").Methods()
	for i := 0; i < methods.Len(); i++ {
		if _, ok := table[string(methods.Get(i).Name())]; !ok {
			t.Errorf("%s is missing from the rules table", methods.Get(i).Name())
		}
	}
	// Run in declaration order: create before get, update and delete.
	for _, name := range []string{"CreateVehicle", "GetVehicle", "UpdateVehicle", "ListVehicles", "DeleteVehicle",
		"IngestPositions", "PlanRoute", "OptimizeStops", "GetTravelMatrix", "NearestVehicles"} {
		tt := table[name]
		t.Run(name, func(t *testing.T) {
			if code := status.Code(tt.call(u.ctx)); code != codes.Unauthenticated {
				t.Errorf("no token: %v, want Unauthenticated", code)
			}
			if code := status.Code(tt.call(u.as(t, tt.denied))); code != codes.PermissionDenied {
				t.Errorf("%s: %v, want PermissionDenied", tt.denied, code)
			}
			if err := tt.call(u.as(t, tt.allowed)); err != nil {
				t.Errorf("%s: %v", tt.allowed, err)
			}
		})
	}
}
