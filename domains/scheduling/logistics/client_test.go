package logistics_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/logistics"
)

// Fake is a LogisticsService answering GetTravelMatrix with 10 minutes per 0.01° of latitude
// (points north of 60° are outside its area) and OptimizeStops with the stops reversed. It
// counts matrix calls and entries, and PlanRoute calls, which scheduling must not make.
type Fake struct {
	logisticsv1.UnimplementedLogisticsServiceServer
	matrices, entries, routes atomic.Int64
	// largest is the most origins or destinations seen in one matrix request.
	largest atomic.Int64
	// down makes GetTravelMatrix fail with Unavailable.
	down atomic.Bool
}

func (f *Fake) GetTravelMatrix(_ context.Context, r *logisticsv1.GetTravelMatrixRequest) (*logisticsv1.GetTravelMatrixResponse, error) {
	f.matrices.Add(1)
	if f.down.Load() {
		return nil, status.Error(codes.Unavailable, "logistics is down")
	}
	f.largest.Store(max(f.largest.Load(), int64(len(r.GetOrigins())), int64(len(r.GetDestinations()))))
	out := &logisticsv1.GetTravelMatrixResponse{DepartAt: r.GetDepartAt()}
	for _, o := range r.GetOrigins() {
		for _, d := range r.GetDestinations() {
			f.entries.Add(1)
			if o.GetLat() > 60 || d.GetLat() > 60 {
				out.Entries = append(out.Entries, &logisticsv1.TravelMatrixEntry{Status: logisticsv1.TravelStatus_TRAVEL_STATUS_OUTSIDE_AREA})
				continue
			}
			eta := (d.GetLat() - o.GetLat()) * 1000 * float64(time.Minute)
			out.Entries = append(out.Entries, &logisticsv1.TravelMatrixEntry{Status: logisticsv1.TravelStatus_TRAVEL_STATUS_OK,
				Eta: durationpb.New(time.Duration(max(eta, -eta)))})
		}
	}
	return out, nil
}

func (f *Fake) PlanRoute(context.Context, *logisticsv1.PlanRouteRequest) (*logisticsv1.PlanRouteResponse, error) {
	f.routes.Add(1)
	return &logisticsv1.PlanRouteResponse{}, nil
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
	if n := f.matrices.Load(); n != 1 {
		t.Errorf("%d GetTravelMatrix calls, want 1 (cached)", n)
	}
	if _, err := c.Travel(ctx, a, b, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := f.matrices.Load(); n != 2 || c.Calls() != 2 || f.entries.Load() != 2 {
		t.Errorf("%d GetTravelMatrix calls (%d counted) of %d entries, want 2 of 1×1", n, c.Calls(), f.entries.Load())
	}
	if n := f.routes.Load(); n != 0 {
		t.Errorf("%d PlanRoute calls, want none", n)
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
		t.Error("unimplemented GetTravelMatrix gave no error")
	}
}

// grid returns n points in distinct cache cells, 0.02° apart.
func grid(n int) []job.LatLng {
	var ps []job.LatLng
	for i := range n {
		ps = append(ps, job.LatLng{Lat: 50.005 + 0.02*float64(i%20), Lng: 5.005 + 0.02*float64(i/20)})
	}
	return ps
}

// TestPrefetchAsksOneMatrix: prefetching a plan's points is one GetTravelMatrix call, after
// which every pair between different cells is answered from the cache; a point already in a
// cell shares its travel times; a second prefetch asks nothing.
func TestPrefetchAsksOneMatrix(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 8, 10, 0, 0, time.UTC)
	pts := append(grid(12), job.LatLng{Lat: 50.006, Lng: 5.006}) // the last shares the first's cell
	if err := c.Prefetch(ctx, pts, at); err != nil {
		t.Fatal(err)
	}
	if n, e := f.matrices.Load(), f.entries.Load(); n != 1 || e != 12*12 || c.Calls() != 1 {
		t.Fatalf("%d GetTravelMatrix calls (%d counted) of %d entries, want one of 12×12", n, c.Calls(), e)
	}
	for i, a := range pts {
		for j, b := range pts {
			if i == j || i%12 == j%12 {
				continue
			}
			d, err := c.Travel(ctx, a, b, at.Add(20*time.Minute))
			want := time.Duration(math.Abs(b.Lat-a.Lat) * 1000 * float64(time.Minute))
			if err != nil || (d-want).Abs() > time.Minute {
				t.Fatalf("%v → %v: %v (%v), want about %v", a, b, d, err, want)
			}
		}
	}
	if err := c.Prefetch(ctx, pts, at); err != nil {
		t.Fatal(err)
	}
	if n := f.matrices.Load(); n != 1 || f.routes.Load() != 0 {
		t.Errorf("%d GetTravelMatrix and %d PlanRoute calls after the prefetch, want 1 and 0", n, f.routes.Load())
	}
}

// TestPrefetchSplitsLargeMatrices: 150 cells are asked in 2×2 blocks of at most 100 points.
func TestPrefetchSplitsLargeMatrices(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	if err := c.Prefetch(context.Background(), grid(150), time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, l, e := f.matrices.Load(), f.largest.Load(), f.entries.Load(); n != 4 || l != logistics.MaxMatrixPoints || e != 150*150 || c.Calls() != 4 {
		t.Errorf("%d calls (%d counted), at most %d points each, %d entries; want 4 calls of ≤ %d, 150²", n, c.Calls(), l, e, logistics.MaxMatrixPoints)
	}
}

// TestPlannerMakesOneMatrixCall plans a day for engineers and jobs through job.Fallback over the
// client: one GetTravelMatrix for the whole plan, no PlanRoute, no fallback; a point outside
// logistics' area falls back to the estimate without another call.
func TestPlannerMakesOneMatrixCall(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	engs, jobs := day()
	travel := &job.Fallback{Primary: c, Backup: job.Estimate(40)}
	p := job.Planner{Travel: travel, From: monday, To: monday.Add(24 * time.Hour)}
	plan, err := p.Optimize(context.Background(), jobs, engs)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Routes) == 0 {
		t.Fatalf("nothing planned: %+v", plan)
	}
	if n := f.matrices.Load(); n != 1 || c.Calls() != 1 || f.routes.Load() != 0 {
		t.Errorf("%d GetTravelMatrix (%d counted) and %d PlanRoute calls for one plan, want 1 and 0", n, c.Calls(), f.routes.Load())
	}
	if travel.Failed.Load() == 0 {
		t.Error("the job outside logistics' area did not fall back to the estimate")
	}
}

// TestPlannerFallsBackWhenLogisticsIsDown: every GetTravelMatrix fails; the plan is the one the
// estimate alone gives, every travel time counted as a fallback, and Calls counts the failed
// requests (the prefetch, then one per pair).
func TestPlannerFallsBackWhenLogisticsIsDown(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	f.down.Store(true)
	engs, jobs := day()
	travel := &job.Fallback{Primary: c, Backup: job.Estimate(40)}
	p := job.Planner{Travel: travel, From: monday, To: monday.Add(24 * time.Hour)}
	got, err := p.Optimize(context.Background(), jobs, engs)
	if err != nil {
		t.Fatal(err)
	}
	p.Travel = job.Estimate(40)
	want, err := p.Optimize(context.Background(), jobs, engs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cost != want.Cost || travel.Failed.Load() == 0 {
		t.Errorf("cost %v with %d fallbacks, want the estimate's %v", got.Cost, travel.Failed.Load(), want.Cost)
	}
	if n := f.matrices.Load(); n < 2 || int64(c.Calls()) != n || f.routes.Load() != 0 {
		t.Errorf("%d GetTravelMatrix (%d counted), %d PlanRoute; want the prefetch and per-pair calls counted, no PlanRoute", n, c.Calls(), f.routes.Load())
	}
}

var monday = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// day is 3 engineers on a Monday shift and 10 jobs, the last outside the fake's area.
func day() ([]job.Engineer, []job.Job) {
	var engs []job.Engineer
	for i, home := range grid(3) {
		engs = append(engs, job.Engineer{ID: fmt.Sprintf("e%d", i), Skills: []string{"mechanical"}, Home: home,
			Shifts: []job.Shift{{Weekday: time.Monday, Start: 8 * 60, End: 17 * 60}}})
	}
	var jobs []job.Job
	for i, site := range append(grid(12)[3:], job.LatLng{Lat: 70, Lng: 5}) {
		jobs = append(jobs, job.Job{ID: fmt.Sprintf("j%d", i), Skill: "mechanical", Priority: 3, Location: site,
			Duration: 30 * time.Minute, Due: monday.Add(16 * time.Hour)})
	}
	return engs, jobs
}

// TestTravelWithoutRoute: an entry without a route is ErrNoRoute (so job.Fallback estimates),
// and it is cached like a travel time: asking again sends nothing.
func TestTravelWithoutRoute(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	at := time.Date(2026, 11, 23, 8, 10, 0, 0, time.UTC)
	for range 2 {
		if _, err := c.Travel(context.Background(), job.LatLng{Lat: 52, Lng: 5}, job.LatLng{Lat: 69.6, Lng: 18.9}, at); !errors.Is(err, logistics.ErrNoRoute) {
			t.Fatalf("travel outside the area: %v, want ErrNoRoute", err)
		}
	}
	if n := f.matrices.Load(); n != 1 || c.Calls() != 1 {
		t.Errorf("%d GetTravelMatrix calls (%d counted), want 1", n, c.Calls())
	}
}
