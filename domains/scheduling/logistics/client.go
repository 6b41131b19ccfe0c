// Package logistics is scheduling's client of mesh.logistics.v1.LogisticsService: travel times
// from GetTravelMatrix, cached per grid-cell pair and hour (it implements job.TravelTimes and
// job.TravelMatrix), and an engineer's day order from OptimizeStops. It never calls PlanRoute:
// each PlanRoute is a route on logistics.routes.v1, and a planner's questions are not routes
// anyone drives.
package logistics

import (
	"context"
	"errors"
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
	from, to cellID
	hour     int64
}

// cellID is a cache grid cell.
type cellID struct{ lat, lng int32 }

func cellOf(p job.LatLng) cellID {
	return cellID{int32(math.Floor(p.Lat / CellDegrees)), int32(math.Floor(p.Lng / CellDegrees))}
}

func hourOf(at time.Time) int64 { return at.Unix() / 3600 }

// travel is a cached answer: a travel time, or none when logistics found no route.
type travel struct {
	d      time.Duration
	status logisticsv1.TravelStatus
}

// ErrNoRoute is returned by Travel when logistics has no route between the points (one lies
// outside its service area, or nothing joins them); job.Fallback then estimates.
var ErrNoRoute = errors.New("logistics: no route")

// Client asks logistics for travel times and caches them.
type Client struct {
	api logisticsv1.LogisticsServiceClient
	mu  sync.Mutex
	// cache holds travel times by cell pair and hour.
	cache map[key]travel
	calls int
}

var (
	_ job.TravelTimes  = (*Client)(nil)
	_ job.TravelMatrix = (*Client)(nil)
	_ job.Sequencer    = (*Client)(nil)
)

// New returns a client over api (logisticsv1.NewLogisticsServiceClient(conn)).
func New(api logisticsv1.LogisticsServiceClient) *Client {
	return &Client{api: api, cache: make(map[key]travel)}
}

// Travel returns the travel time from one point to another leaving at the time, from the
// cache or a 1×1 GetTravelMatrix. It returns ErrNoRoute when logistics has none.
func (c *Client) Travel(ctx context.Context, from, to job.LatLng, at time.Time) (time.Duration, error) {
	k := key{cellOf(from), cellOf(to), hourOf(at)}
	c.mu.Lock()
	t, ok := c.cache[k]
	c.mu.Unlock()
	if !ok {
		m, err := c.matrix(ctx, []job.LatLng{from}, []job.LatLng{to}, at)
		if err != nil {
			return 0, fmt.Errorf("logistics.Client.Travel: %w", err)
		}
		t = m[0]
		c.mu.Lock()
		c.cache[k] = t
		c.mu.Unlock()
	}
	if t.status != logisticsv1.TravelStatus_TRAVEL_STATUS_OK {
		return 0, fmt.Errorf("logistics.Client.Travel: %w (%s)", ErrNoRoute, t.status)
	}
	return t.d, nil
}

// Prefetch fills the cache with the travel times between every two points leaving at the
// time, asking GetTravelMatrix once per block of up to MaxMatrixPoints origins and
// destinations, for one point per cache cell and only the cells with pairs not cached yet.
// Pairs within one cell are left to Travel: one point per cell cannot answer them.
func (c *Client) Prefetch(ctx context.Context, points []job.LatLng, at time.Time) error {
	hour := hourOf(at)
	var cells []cellID
	rep := map[cellID]job.LatLng{}
	for _, p := range points {
		if _, ok := rep[cellOf(p)]; !ok {
			rep[cellOf(p)] = p
			cells = append(cells, cellOf(p))
		}
	}
	c.mu.Lock()
	var from, to []cellID
	missFrom, missTo := map[cellID]bool{}, map[cellID]bool{}
	for _, a := range cells {
		for _, b := range cells {
			if _, ok := c.cache[key{a, b, hour}]; ok || a == b {
				continue
			}
			if !missFrom[a] {
				missFrom[a] = true
				from = append(from, a)
			}
			if !missTo[b] {
				missTo[b] = true
				to = append(to, b)
			}
		}
	}
	c.mu.Unlock()
	for i := 0; i < len(from); i += MaxMatrixPoints {
		rows := from[i:min(i+MaxMatrixPoints, len(from))]
		for j := 0; j < len(to); j += MaxMatrixPoints {
			cols := to[j:min(j+MaxMatrixPoints, len(to))]
			if err := c.prefetchBlock(ctx, rows, cols, rep, at); err != nil {
				return fmt.Errorf("logistics.Client.Prefetch: %w", err)
			}
		}
	}
	return nil
}

// MaxMatrixPoints is the most origins or destinations logistics takes in one GetTravelMatrix.
const MaxMatrixPoints = 100

func (c *Client) prefetchBlock(ctx context.Context, rows, cols []cellID, rep map[cellID]job.LatLng, at time.Time) error {
	origins, destinations := make([]job.LatLng, len(rows)), make([]job.LatLng, len(cols))
	for i, r := range rows {
		origins[i] = rep[r]
	}
	for j, d := range cols {
		destinations[j] = rep[d]
	}
	m, err := c.matrix(ctx, origins, destinations, at)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range rows {
		for j, d := range cols {
			if r != d {
				c.cache[key{r, d, hourOf(at)}] = m[i*len(cols)+j]
			}
		}
	}
	return nil
}

// matrix asks GetTravelMatrix and checks the answer's shape.
func (c *Client) matrix(ctx context.Context, origins, destinations []job.LatLng, at time.Time) ([]travel, error) {
	req := &logisticsv1.GetTravelMatrixRequest{DepartAt: timestamppb.New(at)}
	for _, p := range origins {
		req.Origins = append(req.Origins, latLng(p))
	}
	for _, p := range destinations {
		req.Destinations = append(req.Destinations, latLng(p))
	}
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	resp, err := c.api.GetTravelMatrix(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("GetTravelMatrix: %w", err)
	}
	if n := len(resp.GetEntries()); n != len(origins)*len(destinations) {
		return nil, fmt.Errorf("GetTravelMatrix: %d entries for %d×%d points", n, len(origins), len(destinations))
	}
	out := make([]travel, len(resp.GetEntries()))
	for i, e := range resp.GetEntries() {
		out[i] = travel{d: e.GetEta().AsDuration(), status: e.GetStatus()}
	}
	return out, nil
}

// Calls returns how many requests for travel times the client sent to logistics (cache misses
// and prefetch blocks), failed ones included.
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
