package main

import (
	"slices"
	"testing"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
)

var amsterdam = &logisticsv1.LatLng{Lat: 52.37, Lng: 4.90}

// TestInvalidArgumentNamesTheField checks bad coordinates, resolutions, stop lists and travel
// matrix point lists come back as InvalidArgument with a field violation naming the field.
func TestInvalidArgumentNamesTheField(t *testing.T) {
	u := start(t, nil)
	ctx := u.as(t, "dispatcher")
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"origin latitude", func() error {
			_, err := u.client.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: &logisticsv1.LatLng{Lat: 91, Lng: 4.9}, Destination: amsterdam})
			return err
		}, "origin.lat"},
		{"destination longitude", func() error {
			_, err := u.client.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: amsterdam, Destination: &logisticsv1.LatLng{Lat: 52, Lng: 181}})
			return err
		}, "destination.lng"},
		{"missing destination", func() error {
			_, err := u.client.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: amsterdam})
			return err
		}, "destination"},
		{"resolution", func() error {
			_, err := u.client.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: amsterdam, Destination: amsterdam, H3Resolution: 16})
			return err
		}, "h3_resolution"},
		{"outside the area", func() error {
			_, err := u.client.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: amsterdam, Destination: &logisticsv1.LatLng{Lat: 48.85, Lng: 2.35}})
			return err
		}, "destination"},
		{"empty stops", func() error {
			_, err := u.client.OptimizeStops(ctx, &logisticsv1.OptimizeStopsRequest{Start: amsterdam})
			return err
		}, "stops"},
		{"bad stop", func() error {
			_, err := u.client.OptimizeStops(ctx, &logisticsv1.OptimizeStopsRequest{Start: amsterdam, Stops: []*logisticsv1.LatLng{amsterdam, {Lat: -100}}})
			return err
		}, "stops[1].lat"},
		{"matrix origin latitude", func() error {
			_, err := u.client.GetTravelMatrix(ctx, &logisticsv1.GetTravelMatrixRequest{
				Origins: []*logisticsv1.LatLng{amsterdam, amsterdam, amsterdam, {Lat: 91, Lng: 4.9}}, Destinations: []*logisticsv1.LatLng{amsterdam}})
			return err
		}, "origins[3].lat"},
		{"matrix destination longitude", func() error {
			_, err := u.client.GetTravelMatrix(ctx, &logisticsv1.GetTravelMatrixRequest{
				Origins: []*logisticsv1.LatLng{amsterdam}, Destinations: []*logisticsv1.LatLng{amsterdam, {Lat: 52, Lng: -181}}})
			return err
		}, "destinations[1].lng"},
		{"matrix without destinations", func() error {
			_, err := u.client.GetTravelMatrix(ctx, &logisticsv1.GetTravelMatrixRequest{Origins: []*logisticsv1.LatLng{amsterdam}})
			return err
		}, "destinations"},
		{"matrix with too many origins", func() error {
			_, err := u.client.GetTravelMatrix(ctx, &logisticsv1.GetTravelMatrixRequest{
				Origins: slices.Repeat([]*logisticsv1.LatLng{amsterdam}, 101), Destinations: []*logisticsv1.LatLng{amsterdam}})
			return err
		}, "origins"},
		{"nearest k", func() error {
			_, err := u.client.NearestVehicles(ctx, &logisticsv1.NearestVehiclesRequest{Point: amsterdam})
			return err
		}, "k"},
		{"nearest point", func() error {
			_, err := u.client.NearestVehicles(ctx, &logisticsv1.NearestVehiclesRequest{Point: &logisticsv1.LatLng{Lat: 95}, K: 3})
			return err
		}, "point.lat"},
		{"vehicle depot", func() error {
			_, err := u.client.CreateVehicle(ctx, &logisticsv1.CreateVehicleRequest{Vehicle: &logisticsv1.Vehicle{
				Id: "v1", Type: logisticsv1.VehicleType_VEHICLE_TYPE_VAN, HomeDepot: &logisticsv1.LatLng{Lat: 52, Lng: 200}}})
			return err
		}, "vehicle.home_depot.lng"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fields := violations(t, tt.call()); !slices.Contains(fields, tt.field) {
				t.Fatalf("violations %v do not name %s", fields, tt.field)
			}
		})
	}
}
