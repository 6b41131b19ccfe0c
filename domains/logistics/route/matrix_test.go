package route_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/route"
)

// TestOneToManyMatchesPairwiseSearches checks that one search per origin gives, for every
// target, the travel time of Dijkstra and of the A* with landmarks that PlanRoute uses, over
// time-dependent costs, with repeated targets, the origin among the targets and a departure
// in a slow hour.
func TestOneToManyMatchesPairwiseSearches(t *testing.T) {
	t.Parallel()
	g, err := route.NewDiskGraph(centre, 9, 30)
	if err != nil {
		t.Fatal(err)
	}
	c := zonedCosts(t, g, 5)
	alt := c.WithLandmarks(6)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 20; i++ {
		src := int32(rng.IntN(g.Len()))
		dsts := []int32{src}
		for range 15 {
			dsts = append(dsts, int32(rng.IntN(g.Len())))
		}
		dsts = append(dsts, dsts[3])
		depart := time.Date(2026, 1, 1, []int{7, 8, 12, 17}[i%4], 40, 0, 0, time.UTC)
		reach, settled := alt.OneToMany(src, dsts, depart)
		if settled == 0 || len(reach) != len(dsts) {
			t.Fatalf("settled %d, %d results for %d targets", settled, len(reach), len(dsts))
		}
		for j, d := range dsts {
			pd, err := c.Dijkstra(src, d, depart)
			if err != nil {
				t.Fatal(err)
			}
			pa, err := alt.AStar(src, d, depart)
			if err != nil {
				t.Fatal(err)
			}
			r := reach[j]
			if !r.OK || math.Abs(r.Seconds-pd.Seconds) > 1e-6*pd.Seconds || math.Abs(r.Seconds-pa.Seconds) > 1e-6*pa.Seconds {
				t.Fatalf("%d→%d: one-to-many %+v, Dijkstra %.6f s, A* %.6f s", src, d, r, pd.Seconds, pa.Seconds)
			}
			if src != d && (r.DistanceM <= 0 || math.Abs(r.DistanceM-pd.DistanceM) > 1e-6*pd.DistanceM) {
				t.Fatalf("%d→%d: one-to-many %.1f m, Dijkstra's path %.1f m", src, d, r.DistanceM, pd.DistanceM)
			}
		}
	}
}

// TestTravelMatrixMarksMissingRoutes builds a graph of two islands and checks the statuses of
// points off the graph and of pairs on different islands, and the row-major order.
func TestTravelMatrixMarksMissingRoutes(t *testing.T) {
	t.Parallel()
	far := h3.NewLatLng(52.50, 4.90)
	cells := slices.Concat(h3.LatLngToCell(centre, 9).GridDisk(5), h3.LatLngToCell(far, 9).GridDisk(5))
	g, err := route.NewGraph(cells)
	if err != nil {
		t.Fatal(err)
	}
	p := route.NewPlanner(g, route.NewModel(route.ModelConfig{}).Compile(g))
	paris := h3.NewLatLng(48.85, 2.35)
	near := h3.NewLatLng(52.372, 4.903)
	origins := []h3.LatLng{centre, paris, far}
	destinations := []h3.LatLng{near, far, paris}
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	m := p.TravelMatrix(origins, destinations, at)
	want := []route.Status{
		route.Reached, route.NoPath, route.Outside,
		route.Outside, route.Outside, route.Outside,
		route.NoPath, route.Reached, route.Outside,
	}
	if len(m) != len(want) {
		t.Fatalf("%d entries, want %d", len(m), len(want))
	}
	for k, e := range m {
		if e.Status != want[k] {
			t.Errorf("entry %d (origin %d, destination %d): status %d, want %d", k, k/3, k%3, e.Status, want[k])
		}
	}
	plan, _, _, err := p.Route(centre, near, at)
	if err != nil {
		t.Fatal(err)
	}
	if m[0].Seconds <= 0 || math.Abs(m[0].Seconds-plan.Seconds) > 1e-6*plan.Seconds || m[7].Seconds != 0 {
		t.Errorf("centre→near %.3f s, Route %.3f s; far→far %.3f s, want 0", m[0].Seconds, plan.Seconds, m[7].Seconds)
	}
}

// TestTravelsMatchesDijkstra checks Travels on both of its paths — pairwise A* for a few
// targets, one search for many — against Dijkstra, with a target outside the graph and a
// repeated one.
func TestTravelsMatchesDijkstra(t *testing.T) {
	t.Parallel()
	g, err := route.NewDiskGraph(centre, 9, 30)
	if err != nil {
		t.Fatal(err)
	}
	c := zonedCosts(t, g, 5)
	alt := c.WithLandmarks(6)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, route.PairwiseMax, route.PairwiseMax + 1, 40} {
		src := int32(rng.IntN(g.Len()))
		var dsts []int32
		for range n {
			dsts = append(dsts, int32(rng.IntN(g.Len())))
		}
		dsts = append(dsts, -1, dsts[0])
		depart := time.Date(2026, 1, 1, 8, 15, 0, 0, time.UTC)
		reach := alt.Travels(src, dsts, depart)
		if len(reach) != len(dsts) {
			t.Fatalf("n=%d: %d results for %d targets", n, len(reach), len(dsts))
		}
		for j, d := range dsts {
			r := reach[j]
			if d < 0 {
				if r.OK {
					t.Errorf("n=%d: target outside the graph reached: %+v", n, r)
				}
				continue
			}
			pd, err := c.Dijkstra(src, d, depart)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK || math.Abs(r.Seconds-pd.Seconds) > 1e-6*pd.Seconds || math.Abs(r.DistanceM-pd.DistanceM) > 1e-6*pd.DistanceM+1e-9 {
				t.Fatalf("n=%d: %d→%d: Travels %+v, Dijkstra %.6f s %.1f m", n, src, d, r, pd.Seconds, pd.DistanceM)
			}
		}
	}
}

// TestPlannerMatrixMatchesAStar checks OptimizeStops' cost matrix, on both paths of Travels,
// against one A* per pair.
func TestPlannerMatrixMatchesAStar(t *testing.T) {
	t.Parallel()
	g, err := route.NewDiskGraph(centre, 9, 30)
	if err != nil {
		t.Fatal(err)
	}
	alt := zonedCosts(t, g, 5).WithLandmarks(6)
	p := route.NewPlanner(g, alt)
	rng := rand.New(rand.NewPCG(11, 12))
	depart := time.Date(2026, 1, 1, 17, 5, 0, 0, time.UTC)
	for _, n := range []int{5, route.PairwiseMax + 4} {
		nodes := make([]int32, n)
		for i := range nodes {
			nodes[i] = int32(rng.IntN(g.Len()))
		}
		m, err := p.Matrix(nodes, depart)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range nodes {
			for j, b := range nodes {
				want := 0.0
				if a != b {
					path, err := alt.AStar(a, b, depart)
					if err != nil {
						t.Fatal(err)
					}
					want = path.Seconds
				}
				if math.Abs(m[i][j]-want) > 1e-6*want {
					t.Fatalf("n=%d: m[%d][%d] = %.6f s, A* %.6f s", n, i, j, m[i][j], want)
				}
			}
		}
	}
}
