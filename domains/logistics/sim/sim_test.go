package sim_test

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/sim"
)

var (
	learnOnce    sync.Once
	learnedCity  *sim.City
	learnedCosts *route.Costs
	learnErr     error
)

// learned drives 60 vans through two simulated days (a noisy ping every 5 s) and returns the
// city and the costs learned from the pings alone. Computed once for the package's tests.
func learned(t *testing.T) (*sim.City, *route.Costs) {
	t.Helper()
	learnOnce.Do(func() { learnedCity, learnedCosts, learnErr = learn(t) })
	if learnErr != nil {
		t.Fatal(learnErr)
	}
	return learnedCity, learnedCosts
}

func learn(t *testing.T) (*sim.City, *route.Costs, error) {
	city, err := sim.NewCity(sim.CityConfig{})
	if err != nil {
		return nil, nil, err
	}
	model := route.NewModel(route.ModelConfig{})
	tr := route.NewTracker(model)
	res := city.Graph().Resolution()
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	sim.Learn(city, 60, 1, start, 48*time.Hour, 5*time.Second, 8, func(p sim.Ping) {
		tr.Observe(p.Vehicle, h3.LatLngToCell(h3.NewLatLng(p.Lat, p.Lng), res), p.At)
	})
	t.Logf("learned %d edge-buckets", model.Len())
	return city, model.Compile(city.Graph()), nil
}

func TestLearnedETAMatchesGroundTruth(t *testing.T) {
	t.Parallel()
	city, costs := learned(t)
	g := city.Graph()
	rng := rand.New(rand.NewPCG(7, 7))
	var sumAPE float64
	const trips = 200
	for i := 0; i < trips; i++ {
		a, b := int32(rng.IntN(g.Len())), int32(rng.IntN(g.Len()))
		if g.DistanceM(a, b) < 2000 {
			i--
			continue
		}
		depart := time.Date(2026, 11, 5, rng.IntN(24), rng.IntN(60), 0, 0, time.UTC)
		p, err := costs.AStar(a, b, depart)
		if err != nil {
			t.Fatal(err)
		}
		truth, ok := city.Truth().PathSeconds(p.Nodes, depart)
		if !ok {
			t.Fatal("planned path is not connected")
		}
		sumAPE += math.Abs(p.Seconds-truth) / truth
	}
	mape := sumAPE / trips
	t.Logf("ETA MAPE over %d trips: %.1f%%", trips, 100*mape)
	if mape > 0.15 {
		t.Fatalf("MAPE %.1f%% > 15%%", 100*mape)
	}
}

func TestLearnedRoutesAvoidOldTown(t *testing.T) {
	t.Parallel()
	city, costs := learned(t)
	g := city.Graph()
	ot := city.OldTown()
	ij := h3.CellToLocalIJ(ot, ot)
	west := h3.LocalIJToCell(ot, h3.CoordIJ{I: ij.I - 9, J: ij.J})
	east := h3.LocalIJToCell(ot, h3.CoordIJ{I: ij.I + 9, J: ij.J})
	a, okA := g.Node(west)
	b, okB := g.Node(east)
	if !okA || !okB {
		t.Fatal("test cells outside the city")
	}
	straight := 0
	for _, c := range west.GridPath(east) {
		if id, ok := g.Node(c); ok && city.Zone(id) == sim.OldTown {
			straight++
		}
	}
	if straight == 0 {
		t.Fatal("the straight line does not cross the old town; the test proves nothing")
	}
	for _, hour := range []int{3, 8, 12, 17} {
		depart := time.Date(2026, 11, 5, hour, 0, 0, 0, time.UTC)
		p, err := costs.AStar(a, b, depart)
		if err != nil {
			t.Fatal(err)
		}
		inside := 0
		for _, n := range p.Nodes {
			if city.Zone(n) == sim.OldTown {
				inside++
			}
		}
		if inside > 0 {
			t.Errorf("hour %d: route crosses %d old-town cells (straight line: %d)", hour, inside, straight)
		}
	}
}
