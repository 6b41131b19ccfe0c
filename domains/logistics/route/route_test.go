package route_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/route"
)

var centre = h3.NewLatLng(52.37, 4.90)

// zonedCosts gives every cell a pseudo-random speed between 2 and 16 m/s and every hour its own
// factor, so that fastest paths are not straight lines.
func zonedCosts(t testing.TB, g *route.Graph, seed uint64) *route.Costs {
	t.Helper()
	c, err := route.NewCosts(g, 24, 60, func(from, to int32, lenM float64, b int) float64 {
		r := rand.New(rand.NewPCG(seed, uint64(from)))
		speed := 2 + 14*r.Float64()
		if b == 8 || b == 17 {
			speed *= 0.5
		}
		return lenM / speed
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAStarMatchesDijkstra(t *testing.T) {
	t.Parallel()
	g, err := route.NewDiskGraph(centre, 9, 30)
	if err != nil {
		t.Fatal(err)
	}
	c := zonedCosts(t, g, 3)
	alt := c.WithLandmarks(6)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		a, b := int32(rng.IntN(g.Len())), int32(rng.IntN(g.Len()))
		depart := time.Date(2026, 1, 1, rng.IntN(24), 0, 0, 0, time.UTC)
		pa, err := c.AStar(a, b, depart)
		if err != nil {
			t.Fatal(err)
		}
		pd, err := c.Dijkstra(a, b, depart)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(pa.Seconds-pd.Seconds) > 1e-6*pd.Seconds {
			t.Fatalf("%d→%d: A* %.3f s, Dijkstra %.3f s", a, b, pa.Seconds, pd.Seconds)
		}
		if pa.Settled > pd.Settled {
			t.Errorf("%d→%d: A* settled %d > Dijkstra %d", a, b, pa.Settled, pd.Settled)
		}
		pl, err := alt.AStar(a, b, depart)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(pl.Seconds-pd.Seconds) > 1e-6*pd.Seconds {
			t.Fatalf("%d→%d: A* with landmarks %.3f s, Dijkstra %.3f s", a, b, pl.Seconds, pd.Seconds)
		}
		if s, ok := c.PathSeconds(pa.Nodes, depart); !ok || math.Abs(s-pa.Seconds) > 1e-6*s {
			t.Fatalf("path seconds %.3f (ok %v) != search %.3f", s, ok, pa.Seconds)
		}
		if pa.Nodes[0] != a || pa.Nodes[len(pa.Nodes)-1] != b {
			t.Fatalf("path %v does not join %d and %d", pa.Nodes, a, b)
		}
	}
}

func TestGraphRejectsBadInput(t *testing.T) {
	t.Parallel()
	if _, err := route.NewGraph(nil); err == nil {
		t.Error("empty graph accepted")
	}
	mixed := []h3.Cell{h3.LatLngToCell(centre, 9), h3.LatLngToCell(centre, 8)}
	if _, err := route.NewGraph(mixed); err == nil {
		t.Error("mixed resolutions accepted")
	}
}

func TestModelLearnsRobustly(t *testing.T) {
	t.Parallel()
	a := h3.LatLngToCell(centre, 9)
	b := a.GridDisk(1)[1]
	at := time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC)
	tests := []struct {
		name    string
		samples []float64
		want    float64
	}{
		{"mean of first samples", []float64{30, 40, 50}, 40},
		{"outlier clipped", []float64{40, 40, 40, 40, 4000}, 40 + 0.2*(100-40)},
		{"ignores non-positive", []float64{30, 0, -5, 30}, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := route.NewModel(route.ModelConfig{Alpha: 0.2})
			for _, s := range tt.samples {
				m.Observe(a, b, at, s)
			}
			got, ok := m.Stat(route.EdgeKey{From: a, To: b, Bucket: 10})
			if !ok || math.Abs(got.Seconds-tt.want) > 1e-9 {
				t.Fatalf("got %+v (ok %v), want %.2f s", got, ok, tt.want)
			}
		})
	}
}

func TestTrackerLearnsCellCrossings(t *testing.T) {
	t.Parallel()
	m := route.NewModel(route.ModelConfig{})
	tr := route.NewTracker(m)
	start := h3.LatLngToCell(centre, 9)
	path := start.GridPath(h3.LatLngToCell(h3.NewLatLng(52.39, 4.90), 9))
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// Ten pings per cell, 3 s apart: 30 s per crossing. One late duplicate per cell is ignored.
	for _, c := range path {
		for i := 0; i < 10; i++ {
			tr.Observe("v1", c, at)
			at = at.Add(3 * time.Second)
		}
		if tr.Observe("v1", c, at.Add(-time.Minute)) {
			t.Fatal("an out-of-order ping was used")
		}
	}
	// The first cell has no known entry time; the last has no exit.
	for i := 1; i < len(path)-1; i++ {
		s, ok := m.Stat(route.EdgeKey{From: path[i], To: path[i+1], Bucket: 12})
		if !ok || math.Abs(s.Seconds-30) > 1e-9 {
			t.Fatalf("edge %d: %+v (ok %v), want 30 s", i, s, ok)
		}
	}
	if _, ok := m.Stat(route.EdgeKey{From: path[0], To: path[1], Bucket: 12}); ok {
		t.Error("learned from the first, unanchored cell")
	}
}

func TestCompileFallsBackToDefaultSpeed(t *testing.T) {
	t.Parallel()
	g, err := route.NewDiskGraph(centre, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	m := route.NewModel(route.ModelConfig{DefaultSpeedMPS: 10})
	c := m.Compile(g)
	if got := c.MaxSpeedMPS(); math.Abs(got-10) > 1e-3 {
		t.Fatalf("max speed %.3f, want the default 10", got)
	}
	p, err := c.AStar(0, int32(g.Len()-1), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.Seconds-p.DistanceM/10) > 1e-3*p.Seconds {
		t.Fatalf("%.1f s for %.0f m at the default 10 m/s", p.Seconds, p.DistanceM)
	}
}
