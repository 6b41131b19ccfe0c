package route_test

import (
	"fmt"
	"math"
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

// BenchmarkTravelMatrix compares an n×n travel matrix from one OneToMany search per origin
// (GetTravelMatrix) with n² A* + 8 landmark searches (PlanRoute per pair), on the same graph and
// costs in the same run: the metro graph with n points within 15 km of its centre, and a city
// of the service's default size (CITY_RADIUS_CELLS=60, ~10 km across) with points anywhere.
func BenchmarkTravelMatrix(b *testing.B) {
	metroCity, _ := metro(b)
	small, err := sim.NewCity(sim.CityConfig{Radius: 60})
	if err != nil {
		b.Fatal(err)
	}
	for _, city := range []struct {
		name   string
		c      *sim.City
		radius float64
	}{{"metro-15km", metroCity, 15000}, {"city-r60", small, math.Inf(1)}} {
		g := city.c.Graph()
		alt := city.c.Truth().WithLandmarks(8)
		rng := rand.New(rand.NewPCG(40, 40))
		var pool []int32
		for len(pool) < 100 {
			if v := int32(rng.IntN(g.Len())); g.DistanceM(0, v) <= city.radius {
				pool = append(pool, v)
			}
		}
		for _, n := range []int{10, 30, 100} {
			pts := pool[:n]
			for _, alg := range []struct {
				name string
				run  func(at time.Time) int
			}{
				{"one-to-many", func(at time.Time) int {
					settled := 0
					for _, src := range pts {
						_, s := alt.OneToMany(src, pts, at)
						settled += s
					}
					return settled
				}},
				{"travels", func(at time.Time) int { // what GetTravelMatrix runs: the cheaper of the two
					for _, src := range pts {
						alt.Travels(src, pts, at)
					}
					return 0 // settles are not counted
				}},
				{"pairwise-astar-alt8", func(at time.Time) int {
					settled := 0
					for _, src := range pts {
						for _, dst := range pts {
							p, err := alt.AStar(src, dst, at)
							if err != nil {
								b.Fatal(err)
							}
							settled += p.Settled
						}
					}
					return settled
				}},
			} {
				b.Run(fmt.Sprintf("%s/n=%d/%s", city.name, n, alg.name), func(b *testing.B) {
					settled := 0
					for i := 0; i < b.N; i++ {
						settled += alg.run(time.Date(2026, 1, 1, i%24, 0, 0, 0, time.UTC))
					}
					if settled > 0 {
						b.ReportMetric(float64(settled)/float64(b.N), "settled/op")
					}
				})
			}
		}
	}
}
