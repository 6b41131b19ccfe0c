package logistics_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/logistics"
)

// Fake is a LogisticsService answering PlanRoute with 10 minutes per 0.01° of latitude and
// OptimizeStops with the stops reversed.
type Fake struct {
	logisticsv1.UnimplementedLogisticsServiceServer
	routes atomic.Int64
}

func (f *Fake) PlanRoute(_ context.Context, r *logisticsv1.PlanRouteRequest) (*logisticsv1.PlanRouteResponse, error) {
	f.routes.Add(1)
	d := (r.GetDestination().GetLat() - r.GetOrigin().GetLat()) * 1000 * float64(time.Minute)
	return &logisticsv1.PlanRouteResponse{Eta: durationpb.New(time.Duration(max(d, -d)))}, nil
}

func (f *Fake) OptimizeStops(_ context.Context, r *logisticsv1.OptimizeStopsRequest) (*logisticsv1.OptimizeStopsResponse, error) {
	out := &logisticsv1.OptimizeStopsResponse{}
	for i := len(r.GetStops()) - 1; i >= 0; i-- {
		out.Order = append(out.Order, int32(i))
	}
	return out, nil
}

func start(t *testing.T) (*Fake, *logistics.Client) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f := &Fake{}
	logisticsv1.RegisterLogisticsServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return f, logistics.New(logisticsv1.NewLogisticsServiceClient(conn))
}

func TestTravelIsCachedPerCellPairAndHour(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 8, 10, 0, 0, time.UTC)
	a, b := job.LatLng{Lat: 52.005, Lng: 5.005}, job.LatLng{Lat: 52.035, Lng: 5.005}
	d, err := c.Travel(ctx, a, b, at)
	if err != nil || d.Round(time.Second) != 30*time.Minute {
		t.Fatalf("travel %v (%v), want 30m", d, err)
	}
	// Same cells, same hour: cached. Other hour: asked again.
	if _, err := c.Travel(ctx, job.LatLng{Lat: 52.006, Lng: 5.006}, b, at.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := f.routes.Load(); n != 1 {
		t.Errorf("%d PlanRoute calls, want 1 (cached)", n)
	}
	if _, err := c.Travel(ctx, a, b, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := f.routes.Load(); n != 2 || c.Calls() != 2 {
		t.Errorf("%d PlanRoute calls, want 2", n)
	}
	order, _, err := c.Order(ctx, a, []job.LatLng{a, b, a}, at)
	if err != nil || len(order) != 3 || order[0] != 2 {
		t.Errorf("order %v (%v), want reversed", order, err)
	}
}

func TestTravelErrorIsReturned(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	logisticsv1.RegisterLogisticsServiceServer(srv, logisticsv1.UnimplementedLogisticsServiceServer{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := logistics.New(logisticsv1.NewLogisticsServiceClient(conn))
	if _, err := c.Travel(context.Background(), job.LatLng{}, job.LatLng{Lat: 1}, time.Now()); err == nil {
		t.Error("unimplemented PlanRoute gave no error")
	}
}
