package rpc

import (
	"context"
	"fmt"

	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/platform/errs"
)

// MaxMatrixPoints bounds each side of GetTravelMatrix: up to MaxMatrixPoints² entries in the
// answer.
const MaxMatrixPoints = 100

var travelStatus = map[route.Status]logisticsv1.TravelStatus{
	route.Reached: logisticsv1.TravelStatus_TRAVEL_STATUS_OK,
	route.Outside: logisticsv1.TravelStatus_TRAVEL_STATUS_OUTSIDE_AREA,
	route.NoPath:  logisticsv1.TravelStatus_TRAVEL_STATUS_NO_PATH,
}

// GetTravelMatrix answers the travel time between every origin and destination over the same
// costs as PlanRoute (route.Planner.TravelMatrix). It publishes nothing: a planner's questions are
// not routes anyone drives. Points outside the service area and unconnected pairs are marked
// per entry rather than failing the whole matrix.
func (h *Handler) GetTravelMatrix(_ context.Context, req *logisticsv1.GetTravelMatrixRequest) (*logisticsv1.GetTravelMatrixResponse, error) {
	const op = "rpc.GetTravelMatrix"
	var v []errs.Violation
	origins, ov := checkPoints("origins", req.GetOrigins())
	destinations, dv := checkPoints("destinations", req.GetDestinations())
	if v = append(append(v, ov...), dv...); len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	at := depart(req.GetDepartAt(), h.d.Now())
	entries := h.d.Planner.TravelMatrix(origins, destinations, at)
	resp := &logisticsv1.GetTravelMatrixResponse{DepartAt: timestamppb.New(at), Entries: make([]*logisticsv1.TravelMatrixEntry, len(entries))}
	for i, e := range entries {
		out := &logisticsv1.TravelMatrixEntry{Status: travelStatus[e.Status]}
		if e.Status == route.Reached {
			out.Eta, out.DistanceM = durationpb.New(seconds(e.Seconds)), e.DistanceM
		}
		resp.Entries[i] = out
	}
	return resp, nil
}

// checkPoints validates a required, bounded list of points and converts it.
func checkPoints(field string, ps []*logisticsv1.LatLng) ([]h3.LatLng, []errs.Violation) {
	var v []errs.Violation
	switch n := len(ps); {
	case n == 0:
		v = append(v, errs.Violation{Field: field, Description: "must list at least one point"})
	case n > MaxMatrixPoints:
		v = append(v, errs.Violation{Field: field, Description: fmt.Sprintf("must list at most %d points", MaxMatrixPoints)})
	}
	out := make([]h3.LatLng, 0, len(ps))
	for i, p := range ps {
		v = append(v, checkPoint(fmt.Sprintf("%s[%d]", field, i), p)...)
		out = append(out, latLng(p))
	}
	return out, v
}
