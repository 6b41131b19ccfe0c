// Package rpc serves mesh.logistics.v1.LogisticsService: the fleet, position ingestion over a
// client stream, route planning, travel matrices, stop optimisation and nearest vehicles. Rules
// (rules.go) says who may call what; handlers validate requests (InvalidArgument naming the
// field), convert at the edge (convert.go) and leave the work to packages fleet, tracking and
// route.
package rpc

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/fleet"
	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/domains/logistics/redis"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/stream"
	"meshwork.dev/domains/logistics/tracking"
	"meshwork.dev/platform/errs"
)

// MaxStops bounds OptimizeStops: the cost matrix needs (n+1)² route searches.
const MaxStops = 25

// Store is the fleet storage (postgres.Store).
type Store interface {
	CreateVehicle(ctx context.Context, v fleet.Vehicle) (fleet.Vehicle, error)
	Vehicle(ctx context.Context, id string) (fleet.Vehicle, error)
	UpdateVehicle(ctx context.Context, v fleet.Vehicle) (fleet.Vehicle, error)
	DeleteVehicle(ctx context.Context, id string) error
	ListVehicles(ctx context.Context, after string, limit int) ([]fleet.Vehicle, error)
	Vehicles(ctx context.Context, ids []string) ([]fleet.Vehicle, error)
}

// Live finds vehicles by their latest position (redis.Live).
type Live interface {
	Nearest(ctx context.Context, point h3.LatLng, k int, now time.Time, maxAge time.Duration, accept func([]string) (map[string]bool, error)) ([]redis.Near, error)
}

// RoutePublisher publishes planned routes (stream.RoutePublisher).
type RoutePublisher interface {
	Route(ctx context.Context, r *logisticsv1.PlannedRoute) error
}

// Deps are the handler's collaborators.
type Deps struct {
	Store    Store
	Live     Live
	Pipeline *tracking.Pipeline
	Planner  *route.Planner
	Routes   RoutePublisher
	Now      func() time.Time
}

// Handler implements LogisticsServiceServer.
type Handler struct {
	logisticsv1.UnimplementedLogisticsServiceServer
	d Deps
}

// New returns a handler.
func New(d Deps) *Handler { return &Handler{d: d} }

// CreateVehicle registers a vehicle.
func (h *Handler) CreateVehicle(ctx context.Context, req *logisticsv1.CreateVehicleRequest) (*logisticsv1.CreateVehicleResponse, error) {
	v := vehicleFromProto(req.GetVehicle())
	if err := v.Validate(); err != nil {
		return nil, err
	}
	out, err := h.d.Store.CreateVehicle(ctx, v)
	if err != nil {
		return nil, err
	}
	return &logisticsv1.CreateVehicleResponse{Vehicle: vehicleToProto(out)}, nil
}

// GetVehicle returns a vehicle.
func (h *Handler) GetVehicle(ctx context.Context, req *logisticsv1.GetVehicleRequest) (*logisticsv1.GetVehicleResponse, error) {
	if !position.ValidVehicleID(req.GetId()) {
		return nil, errs.BadRequest("rpc.GetVehicle", errs.Violation{Field: "id", Description: "must be a vehicle id"})
	}
	v, err := h.d.Store.Vehicle(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &logisticsv1.GetVehicleResponse{Vehicle: vehicleToProto(v)}, nil
}

// UpdateVehicle replaces a vehicle's mutable fields.
func (h *Handler) UpdateVehicle(ctx context.Context, req *logisticsv1.UpdateVehicleRequest) (*logisticsv1.UpdateVehicleResponse, error) {
	v := vehicleFromProto(req.GetVehicle())
	if err := v.Validate(); err != nil {
		return nil, err
	}
	out, err := h.d.Store.UpdateVehicle(ctx, v)
	if err != nil {
		return nil, err
	}
	return &logisticsv1.UpdateVehicleResponse{Vehicle: vehicleToProto(out)}, nil
}

// DeleteVehicle removes a vehicle.
func (h *Handler) DeleteVehicle(ctx context.Context, req *logisticsv1.DeleteVehicleRequest) (*logisticsv1.DeleteVehicleResponse, error) {
	if !position.ValidVehicleID(req.GetId()) {
		return nil, errs.BadRequest("rpc.DeleteVehicle", errs.Violation{Field: "id", Description: "must be a vehicle id"})
	}
	if err := h.d.Store.DeleteVehicle(ctx, req.GetId()); err != nil {
		return nil, err
	}
	return &logisticsv1.DeleteVehicleResponse{}, nil
}

// ListVehicles pages through the fleet; the page token is the last id of the previous page.
func (h *Handler) ListVehicles(ctx context.Context, req *logisticsv1.ListVehiclesRequest) (*logisticsv1.ListVehiclesResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > 1000:
		return nil, errs.BadRequest("rpc.ListVehicles", errs.Violation{Field: "page_size", Description: "must be between 0 and 1000"})
	case size == 0:
		size = 100
	}
	vs, err := h.d.Store.ListVehicles(ctx, req.GetPageToken(), size+1)
	if err != nil {
		return nil, err
	}
	resp := &logisticsv1.ListVehiclesResponse{}
	if len(vs) > size {
		vs = vs[:size]
		resp.NextPageToken = vs[size-1].ID
	}
	for _, v := range vs {
		resp.Vehicles = append(resp.Vehicles, vehicleToProto(v))
	}
	return resp, nil
}

// IngestPositions ingests a stream of pings. Invalid pings are counted as rejected, not fatal:
// one bad GPS fix must not end a vehicle's stream.
func (h *Handler) IngestPositions(s logisticsv1.LogisticsService_IngestPositionsServer) error {
	resp := &logisticsv1.IngestPositionsResponse{}
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(resp)
		}
		if err != nil {
			return err
		}
		out, suspect, err := h.d.Pipeline.Ingest(s.Context(), stream.FromRequest(req))
		switch {
		case errs.Is(err, errs.Invalid):
			resp.Rejected++
			continue
		case err != nil:
			return err
		}
		switch out {
		case tracking.Duplicate:
			resp.Duplicates++
		case tracking.Accepted:
			resp.Accepted++
			if suspect {
				resp.Suspect++
			}
		}
	}
}

func depart(ts *timestamppb.Timestamp, now time.Time) time.Time {
	if ts == nil {
		return now
	}
	return ts.AsTime()
}

// checkPoint validates a required point field.
func checkPoint(field string, p *logisticsv1.LatLng) []errs.Violation {
	if p == nil {
		return []errs.Violation{{Field: field, Description: "is required"}}
	}
	return position.ValidLatLng(field, p.GetLat(), p.GetLng())
}

// PlanRoute plans the fastest route and publishes it on logistics.routes.v1.
func (h *Handler) PlanRoute(ctx context.Context, req *logisticsv1.PlanRouteRequest) (*logisticsv1.PlanRouteResponse, error) {
	const op = "rpc.PlanRoute"
	v := append(checkPoint("origin", req.GetOrigin()), checkPoint("destination", req.GetDestination())...)
	if r := int(req.GetH3Resolution()); r != 0 && r != h.d.Planner.Graph().Resolution() {
		v = append(v, errs.Violation{Field: "h3_resolution", Description: "must be 0 or " + strconv.Itoa(h.d.Planner.Graph().Resolution()) + ", the resolution of the routing graph"})
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	now := h.d.Now()
	at := depart(req.GetDepartAt(), now)
	plan, okA, okB, err := h.d.Planner.Route(latLng(req.GetOrigin()), latLng(req.GetDestination()), at)
	if err := outside(op, okA, okB, "origin", "destination"); err != nil {
		return nil, err
	}
	if errors.Is(err, route.ErrNoPath) {
		return nil, errs.E(op, errs.FailedPrecondition, "no path between origin and destination")
	}
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	resp := &logisticsv1.PlanRouteResponse{
		RouteId: uuid.NewString(), DistanceM: plan.DistanceM,
		Eta: durationpb.New(seconds(plan.Seconds)), ArriveAt: timestamppb.New(at.Add(seconds(plan.Seconds))),
	}
	for i, c := range plan.Cells {
		resp.H3Cells = append(resp.H3Cells, c.String())
		resp.Polyline = append(resp.Polyline, toLatLng(plan.Polyline[i]))
	}
	ev := &logisticsv1.PlannedRoute{
		RouteId: resp.RouteId, Origin: req.GetOrigin(), Destination: req.GetDestination(), DepartAt: timestamppb.New(at),
		H3Cells: resp.H3Cells, DistanceM: plan.DistanceM, EtaSeconds: plan.Seconds, PlannedAt: timestamppb.New(now),
	}
	if err := h.d.Routes.Route(ctx, ev); err != nil {
		return nil, errs.Wrap(op, err)
	}
	return resp, nil
}

func outside(op string, okA, okB bool, a, b string) error {
	var v []errs.Violation
	if !okA {
		v = append(v, errs.Violation{Field: a, Description: "is outside the service area"})
	}
	if !okB {
		v = append(v, errs.Violation{Field: b, Description: "is outside the service area"})
	}
	if len(v) > 0 {
		return errs.BadRequest(op, v...)
	}
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
