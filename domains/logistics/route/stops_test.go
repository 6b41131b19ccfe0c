package route_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"meshwork.dev/domains/logistics/route"
)

// randomMatrix places n stops plus a start uniformly in a 20 km square; costs are Euclidean
// metres scaled by a per-pair detour factor, and asymmetric when asked.
func randomMatrix(rng *rand.Rand, n int, asym bool) [][]float64 {
	xs, ys := make([]float64, n+1), make([]float64, n+1)
	for i := range xs {
		xs[i], ys[i] = 20000*rng.Float64(), 20000*rng.Float64()
	}
	m := make([][]float64, n+1)
	for i := range m {
		m[i] = make([]float64, n+1)
		for j := range m[i] {
			if i != j {
				f := 1.0
				if asym {
					f = 1 + 0.3*rng.Float64()
				}
				m[i][j] = f * math.Hypot(xs[i]-xs[j], ys[i]-ys[j])
			}
		}
	}
	return m
}

// bruteForce tries every permutation.
func bruteForce(m [][]float64, ret bool) float64 {
	n := len(m) - 1
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	best := math.Inf(1)
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			best = math.Min(best, route.OrderCost(m, perm, ret))
			return
		}
		for i := k; i < n; i++ {
			perm[k], perm[i] = perm[i], perm[k]
			rec(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	rec(0)
	return best
}

func TestHeldKarpIsExact(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 30; i++ {
		n := 1 + rng.IntN(7)
		ret, asym := i%2 == 0, i%3 == 0
		m := randomMatrix(rng, n, asym)
		tour, err := route.HeldKarp(m, ret)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteForce(m, ret)
		if math.Abs(tour.Cost-want) > 1e-6 || math.Abs(route.OrderCost(m, tour.Order, ret)-tour.Cost) > 1e-6 {
			t.Fatalf("n=%d ret=%v: held-karp %.1f (order %v), brute force %.1f", n, ret, tour.Cost, tour.Order, want)
		}
	}
}

func TestHeuristicWithinThreePercentOnTwelveStops(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(12, 12))
	worst := 0.0
	for i := 0; i < 40; i++ {
		ret, asym := i%2 == 0, i%4 < 2
		m := randomMatrix(rng, 12, asym)
		exact, err := route.HeldKarp(m, ret)
		if err != nil {
			t.Fatal(err)
		}
		tour, err := route.OptimizeOrder(m, ret)
		if err != nil {
			t.Fatal(err)
		}
		if tour.Exact || len(tour.Order) != 12 {
			t.Fatalf("12 stops: exact=%v, %d stops ordered", tour.Exact, len(tour.Order))
		}
		if got := route.OrderCost(m, tour.Order, ret); math.Abs(got-tour.Cost) > 1e-6 {
			t.Fatalf("reported cost %.1f, order costs %.1f", tour.Cost, got)
		}
		gap := tour.Cost/exact.Cost - 1
		worst = math.Max(worst, gap)
		if gap > 0.03 {
			t.Errorf("instance %d: heuristic %.0f is %.2f%% above the optimum %.0f", i, tour.Cost, 100*gap, exact.Cost)
		}
	}
	t.Logf("worst gap over 40 instances: %.2f%%", 100*worst)
}

func TestOptimizeOrderEdgeCases(t *testing.T) {
	t.Parallel()
	if _, err := route.OptimizeOrder([][]float64{{0}}, false); !errors.Is(err, route.ErrNoStops) {
		t.Errorf("no stops: %v, want ErrNoStops", err)
	}
	tour, err := route.OptimizeOrder([][]float64{{0, 5}, {7, 0}}, true)
	if err != nil || len(tour.Order) != 1 || tour.Cost != 12 || !tour.Exact {
		t.Errorf("one stop: %+v, %v", tour, err)
	}
}
