package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/uber/h3-go/v4"
)

// Ping is one GPS report from a van.
type Ping struct {
	Vehicle    string
	At         time.Time
	Lat, Lng   float64
	SpeedMPS   float64
	HeadingDeg float64
}

// Van drives random trips through a city along the truly fastest paths, at the true speeds.
type Van struct {
	id      string
	city    *City
	rng     *rand.Rand
	noiseM  float64
	now     time.Time
	path    []int32
	leg     int     // index of the edge being driven: path[leg] → path[leg+1]
	elapsed float64 // seconds into the current edge
	legSec  float64 // true duration of the current edge
}

// NewVan places a van at a random cell of the city at time start. noiseM is the standard
// deviation of the GPS error in metres.
func NewVan(id string, city *City, seed uint64, start time.Time, noiseM float64) *Van {
	v := &Van{id: id, city: city, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), noiseM: noiseM, now: start}
	v.path = []int32{int32(v.rng.IntN(city.graph.Len()))}
	return v
}

// ID is the van's vehicle id.
func (v *Van) ID() string { return v.id }

// Now is the van's simulated clock.
func (v *Van) Now() time.Time { return v.now }

// Step advances the van by dt and returns a ping at its new position.
func (v *Van) Step(dt time.Duration) Ping {
	left := dt.Seconds()
	for left > 0 {
		if v.leg >= len(v.path)-1 {
			v.newTrip()
			continue
		}
		if rem := v.legSec - v.elapsed; rem > left {
			v.elapsed += left
			left = 0
		} else {
			left -= rem
			v.leg++
			v.elapsed = 0
			v.startLeg()
		}
	}
	v.now = v.now.Add(dt)
	return v.ping()
}

func (v *Van) newTrip() {
	g := v.city.graph
	from := v.path[len(v.path)-1]
	for {
		to := int32(v.rng.IntN(g.Len()))
		if to == from {
			continue
		}
		p, err := v.city.truth.AStar(from, to, v.now)
		if err != nil {
			continue
		}
		v.path, v.leg, v.elapsed = p.Nodes, 0, 0
		v.startLeg()
		return
	}
}

func (v *Van) startLeg() {
	if v.leg >= len(v.path)-1 {
		return
	}
	a, b := v.path[v.leg], v.path[v.leg+1]
	// Leave at the van's current clock; accurate to within one ping interval.
	v.legSec, _ = v.city.truth.PathSeconds([]int32{a, b}, v.now)
}

// position is where the van is: the first half of an edge at the speed of its cell, the
// second half at the speed of the next.
func (v *Van) position() (h3.LatLng, float64, float64) {
	g := v.city.graph
	if v.leg >= len(v.path)-1 {
		return g.Cell(v.path[len(v.path)-1]).LatLng(), 0, 0
	}
	a, b := v.path[v.leg], v.path[v.leg+1]
	pa, pb := g.Cell(a).LatLng(), g.Cell(b).LatLng()
	hour := v.now.UTC().Hour()
	sa, sb := v.city.SpeedMPS(a, hour), v.city.SpeedMPS(b, hour)
	half := g.DistanceM(a, b) / 2
	var f, speed float64
	if ta := half / sa; v.elapsed <= ta {
		f, speed = 0.5*v.elapsed/ta, sa
	} else {
		f, speed = 0.5+0.5*math.Min(1, (v.elapsed-ta)/(half/sb)), sb
	}
	p := h3.NewLatLng(pa.Lat+f*(pb.Lat-pa.Lat), pa.Lng+f*(pb.Lng-pa.Lng))
	heading := math.Atan2((pb.Lng-pa.Lng)*math.Cos(pa.Lat*math.Pi/180), pb.Lat-pa.Lat) * 180 / math.Pi
	return p, speed, math.Mod(heading+360, 360)
}

func (v *Van) ping() Ping {
	p, speed, heading := v.position()
	const mPerDeg = 111320.0
	p.Lat += v.rng.NormFloat64() * v.noiseM / mPerDeg
	p.Lng += v.rng.NormFloat64() * v.noiseM / (mPerDeg * math.Cos(p.Lat*math.Pi/180))
	return Ping{Vehicle: v.id, At: v.now, Lat: p.Lat, Lng: p.Lng, SpeedMPS: speed, HeadingDeg: heading}
}

// Learn drives vans vans for span from start with a ping every interval and feeds every ping to
// fn, van by van. It is the offline form of the simulator used by tests and evaluation.
func Learn(city *City, vans int, seed uint64, start time.Time, span, interval time.Duration, noiseM float64, fn func(Ping)) {
	for i := 0; i < vans; i++ {
		v := NewVan(vanID(i), city, seed+uint64(i), start, noiseM)
		for v.now.Sub(start) < span {
			fn(v.Step(interval))
		}
	}
}

func vanID(i int) string { return fmt.Sprintf("van-%03d", i) }
