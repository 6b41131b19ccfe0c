package rpc

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/fleet"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/platform/errs"
)

// OptimizeStops orders the stops by travel time: exactly up to route.ExactStopLimit stops,
// heuristically beyond.
func (h *Handler) OptimizeStops(ctx context.Context, req *logisticsv1.OptimizeStopsRequest) (*logisticsv1.OptimizeStopsResponse, error) {
	const op = "rpc.OptimizeStops"
	v := checkPoint("start", req.GetStart())
	switch n := len(req.GetStops()); {
	case n == 0:
		v = append(v, errs.Violation{Field: "stops", Description: "must list at least one stop"})
	case n > MaxStops:
		v = append(v, errs.Violation{Field: "stops", Description: fmt.Sprintf("must list at most %d stops", MaxStops)})
	}
	for i, s := range req.GetStops() {
		v = append(v, checkPoint(fmt.Sprintf("stops[%d]", i), s)...)
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	g := h.d.Planner.Graph()
	nodes := make([]int32, 0, len(req.GetStops())+1)
	for i, p := range append([]*logisticsv1.LatLng{req.GetStart()}, req.GetStops()...) {
		id, ok := g.Locate(latLng(p))
		if !ok {
			field := "start"
			if i > 0 {
				field = fmt.Sprintf("stops[%d]", i-1)
			}
			v = append(v, errs.Violation{Field: field, Description: "is outside the service area"})
		}
		nodes = append(nodes, id)
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	at := depart(req.GetDepartAt(), h.d.Now())
	m, err := h.d.Planner.Matrix(nodes, at)
	if err != nil {
		return nil, errs.E(op, errs.FailedPrecondition, "some stops cannot be reached")
	}
	tour, err := route.OptimizeOrder(m, req.GetReturnToStart())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	resp := &logisticsv1.OptimizeStopsResponse{Exact: tour.Exact, Total: durationpb.New(seconds(tour.Cost))}
	t, prev := at, 0
	for _, o := range tour.Order {
		t = t.Add(seconds(m[prev][o+1]))
		prev = o + 1
		resp.Order = append(resp.Order, int32(o))
		resp.Arrivals = append(resp.Arrivals, timestamppb.New(t))
	}
	return resp, nil
}

// NearestVehicles finds the k vehicles nearest a point among those matching the filters.
func (h *Handler) NearestVehicles(ctx context.Context, req *logisticsv1.NearestVehiclesRequest) (*logisticsv1.NearestVehiclesResponse, error) {
	const op = "rpc.NearestVehicles"
	v := checkPoint("point", req.GetPoint())
	if k := req.GetK(); k < 1 || k > 100 {
		v = append(v, errs.Violation{Field: "k", Description: "must be between 1 and 100"})
	}
	if req.GetMinCapacityKg() < 0 {
		v = append(v, errs.Violation{Field: "min_capacity_kg", Description: "must not be negative"})
	}
	maxAge := 15 * time.Minute
	if req.GetMaxAge() != nil {
		maxAge = req.GetMaxAge().AsDuration()
		if maxAge <= 0 {
			v = append(v, errs.Violation{Field: "max_age", Description: "must be positive"})
		}
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	var accept func([]string) (map[string]bool, error)
	if req.GetType() != logisticsv1.VehicleType_VEHICLE_TYPE_UNSPECIFIED || req.GetMinCapacityKg() > 0 {
		want := types[req.GetType()]
		accept = func(ids []string) (map[string]bool, error) {
			vs, err := h.d.Store.Vehicles(ctx, ids)
			if err != nil {
				return nil, err
			}
			ok := make(map[string]bool, len(vs))
			for _, veh := range vs {
				ok[veh.ID] = matches(veh, want, req.GetMinCapacityKg())
			}
			return ok, nil
		}
	}
	near, err := h.d.Live.Nearest(ctx, latLng(req.GetPoint()), int(req.GetK()), h.d.Now(), maxAge, accept)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	resp := &logisticsv1.NearestVehiclesResponse{}
	for _, n := range near {
		resp.Vehicles = append(resp.Vehicles, &logisticsv1.NearbyVehicle{
			VehicleId: n.Vehicle, Position: &logisticsv1.LatLng{Lat: n.Lat, Lng: n.Lng},
			RecordedAt: timestamppb.New(n.At), DistanceM: n.DistanceM, H3Cell: n.Cell,
		})
	}
	return resp, nil
}

func matches(v fleet.Vehicle, t fleet.Type, minKg float64) bool {
	return (t == "" || v.Type == t) && v.CapacityKg >= minKg
}
