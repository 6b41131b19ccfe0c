package route_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/sim"
)

var (
	metroOnce  sync.Once
	metroCity  *sim.City
	metroTrips [][2]int32
)

// metro builds a metro-scale city once: radius 183 at resolution 9 (100,945 cells, ~110 km
// across) and 256 trip pairs 28–32 km apart.
func metro(b *testing.B) (*sim.City, [][2]int32) {
	b.Helper()
	metroOnce.Do(func() {
		c, err := sim.NewCity(sim.CityConfig{Radius: 183, OldTownRadius: 20})
		if err != nil {
			b.Fatal(err)
		}
		g := c.Graph()
		rng := rand.New(rand.NewPCG(30, 30))
		for len(metroTrips) < 256 {
			a, z := int32(rng.IntN(g.Len())), int32(rng.IntN(g.Len()))
			if d := g.DistanceM(a, z); d >= 28000 && d <= 32000 {
				metroTrips = append(metroTrips, [2]int32{a, z})
			}
		}
		metroCity = c
	})
	return metroCity, metroTrips
}

// BenchmarkPlanRoute compares A* with plain Dijkstra on the same metro-scale graph and costs,
// reporting per-query p50/p99 and nodes settled.
func BenchmarkPlanRoute(b *testing.B) {
	city, trips := metro(b)
	costs := city.Truth()
	alt := costs.WithLandmarks(8)
	b.Logf("graph: %d cells, max speed %.1f m/s", city.Graph().Len(), costs.MaxSpeedMPS())
	for _, alg := range []struct {
		name string
		run  func(a, z int32, at time.Time) (route.Path, error)
	}{{"astar", costs.AStar}, {"astar-alt8", alt.AStar}, {"dijkstra", costs.Dijkstra}} {
		b.Run(alg.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			settled := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tr := trips[i%len(trips)]
				at := time.Date(2026, 1, 1, i%24, 0, 0, 0, time.UTC)
				t0 := time.Now()
				p, err := alg.run(tr[0], tr[1], at)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				settled += p.Settled
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(settled)/float64(b.N), "settled/op")
		})
	}
}
