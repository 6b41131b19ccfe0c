package sim

import (
	"math"
	"math/rand/v2"
)

// LatLng is a WGS84 point in degrees.
type LatLng struct {
	Lat, Lng float64
}

// DefaultCentre is the logistics simulator's city centre, so the machines stand where the
// service vans drive.
var DefaultCentre = LatLng{Lat: 52.37, Lng: 4.90}

// DefaultRadius is how far from the centre machines stand at most, in metres.
const DefaultRadius = 3000.0

// metresPerDegree is the length of one degree of latitude (and of longitude at the equator).
const metresPerDegree = 111_320.0

// place spreads the machines uniformly over the disc of radius metres around centre, from
// their own random source (seeded by seed), so adding locations leaves the readings and the
// fault plan of a seed unchanged.
func place(n int, seed uint64, centre LatLng, radius float64) []LatLng {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]LatLng, n)
	for i := range out {
		r := radius * math.Sqrt(rng.Float64()) // uniform over the area, not the radius
		theta := 2 * math.Pi * rng.Float64()
		north, east := r*math.Cos(theta), r*math.Sin(theta)
		out[i] = LatLng{
			Lat: centre.Lat + north/metresPerDegree,
			Lng: centre.Lng + east/(metresPerDegree*math.Cos(centre.Lat*math.Pi/180)),
		}
	}
	return out
}

// DistanceM is the great-circle (haversine) distance between a and b in metres.
func DistanceM(a, b LatLng) float64 {
	const earth = 6_371_000.0
	rad := math.Pi / 180
	dLat, dLng := (b.Lat-a.Lat)*rad, (b.Lng-a.Lng)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * earth * math.Asin(math.Min(1, math.Sqrt(h)))
}
