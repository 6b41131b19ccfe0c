package main

import (
	"slices"
	"testing"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
)

func TestOptimizeStops(t *testing.T) {
	u := start(t, nil)
	ctx := u.as(t, "dispatcher")
	for _, n := range []int{3, 12} {
		var stops []*logisticsv1.LatLng
		for i := 0; i < n; i++ {
			stops = append(stops, &logisticsv1.LatLng{Lat: 52.35 + 0.004*float64(i%4), Lng: 4.87 + 0.006*float64(i/4)})
		}
		resp, err := u.client.OptimizeStops(ctx, &logisticsv1.OptimizeStopsRequest{Start: amsterdam, Stops: stops, ReturnToStart: true})
		if err != nil {
			t.Fatal(err)
		}
		order := slices.Clone(resp.GetOrder())
		slices.Sort(order)
		for i, o := range order {
			if int(o) != i {
				t.Fatalf("%d stops: order %v is not a permutation", n, resp.GetOrder())
			}
		}
		if resp.GetExact() != (n <= 10) || len(resp.GetArrivals()) != n || resp.GetTotal().AsDuration() <= 0 {
			t.Fatalf("%d stops: %v", n, resp)
		}
		for i := 1; i < n; i++ {
			if resp.GetArrivals()[i].AsTime().Before(resp.GetArrivals()[i-1].AsTime()) {
				t.Fatalf("%d stops: arrivals out of order %v", n, resp.GetArrivals())
			}
		}
	}
}
