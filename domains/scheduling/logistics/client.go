// Package logistics is scheduling's client of mesh.logistics.v1.LogisticsService: travel times
// from PlanRoute, cached per grid-cell pair and hour (it implements job.TravelTimes), and an
// engineer's day order from OptimizeStops.
package logistics

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/scheduling/job"
)

// CellDegrees is the size of the cache's grid cells in degrees (about 1 km): two points in
// the same pair of cells share a travel time within an hour.
const CellDegrees = 0.01

// key is a cache key: origin and destination cells and the departure hour.
type key struct {
	fromLat, fromLng, toLat, toLng int32
	hour                           int64
}

func cell(v float64) int32 { return int32(math.Floor(v / CellDegrees)) }

// Client asks logistics for travel times and caches them.
type Client struct {
	api logisticsv1.LogisticsServiceClient
	mu  sync.Mutex
	// cache holds travel times by cell pair and hour.
	cache map[key]time.Duration
	calls int
}

// New returns a client over api (logisticsv1.NewLogisticsServiceClient(conn)).
func New(api logisticsv1.LogisticsServiceClient) *Client {
	return &Client{api: api, cache: make(map[key]time.Duration)}
}

// Travel returns the travel time from one point to another leaving at the time, from the
// cache or PlanRoute.
func (c *Client) Travel(ctx context.Context, from, to job.LatLng, at time.Time) (time.Duration, error) {
	k := key{cell(from.Lat), cell(from.Lng), cell(to.Lat), cell(to.Lng), at.Unix() / 3600}
	c.mu.Lock()
	d, ok := c.cache[k]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	resp, err := c.api.PlanRoute(ctx, &logisticsv1.PlanRouteRequest{Origin: latLng(from), Destination: latLng(to), DepartAt: timestamppb.New(at)})
	if err != nil {
		return 0, fmt.Errorf("logistics.Client.Travel: PlanRoute: %w", err)
	}
	d = resp.GetEta().AsDuration()
	c.mu.Lock()
	c.cache[k] = d
	c.calls++
	c.mu.Unlock()
	return d, nil
}

// Calls returns how many PlanRoute calls the client made (cache misses).
func (c *Client) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Order returns the visiting order of stops from start leaving at the time, from OptimizeStops,
// as indices into stops, with the arrival times.
func (c *Client) Order(ctx context.Context, start job.LatLng, stops []job.LatLng, at time.Time) ([]int, []time.Time, error) {
	req := &logisticsv1.OptimizeStopsRequest{Start: latLng(start), DepartAt: timestamppb.New(at)}
	for _, s := range stops {
		req.Stops = append(req.Stops, latLng(s))
	}
	resp, err := c.api.OptimizeStops(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("logistics.Client.Order: OptimizeStops: %w", err)
	}
	order := make([]int, 0, len(resp.GetOrder()))
	for _, i := range resp.GetOrder() {
		if int(i) < 0 || int(i) >= len(stops) {
			return nil, nil, fmt.Errorf("logistics.Client.Order: stop index %d out of range", i)
		}
		order = append(order, int(i))
	}
	var arrivals []time.Time
	for _, a := range resp.GetArrivals() {
		arrivals = append(arrivals, a.AsTime())
	}
	return order, arrivals, nil
}

func latLng(p job.LatLng) *logisticsv1.LatLng { return &logisticsv1.LatLng{Lat: p.Lat, Lng: p.Lng} }

// Forget drops the cached travel times: the next plan asks logistics again.
func (c *Client) Forget() {
	c.mu.Lock()
	clear(c.cache)
	c.mu.Unlock()
}
