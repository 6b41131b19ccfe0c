package route

import (
	"math"
	"time"

	"github.com/uber/h3-go/v4"
)

// Reach is the fastest travel from a search's source to one target.
type Reach struct {
	// OK is false when the target cannot be reached inside the graph.
	OK bool
	// Seconds is the travel time, following the time-of-day buckets along the way.
	Seconds float64
	// DistanceM sums the centre-to-centre distances along the path.
	DistanceM float64
}

// OneToMany finds the fastest travel from src to every node of dsts leaving at depart, in one
// search that stops as soon as every target is settled; the result is indexed like dsts and
// settled counts the nodes the search settled. Targets outside the graph are not OK. For costs
// built with WithLandmarks the search is guided towards the set of targets by the ALT bound
// to the nearest of them (a consistent potential), otherwise it is Dijkstra's; either way each
// travel time equals Dijkstra's (and so AStar's) for the same pair.
func (c *Costs) OneToMany(src int32, dsts []int32, depart time.Time) (out []Reach, settled int) {
	n := int32(c.g.Len())
	out = make([]Reach, len(dsts))
	if src < 0 || src >= n {
		return out, 0
	}
	s := c.getSearcher()
	defer searchers.Put(s)
	if len(s.goal) != int(n) {
		s.goal = make([]uint32, n)
	}
	left := 0
	var valid []int32
	for _, d := range dsts {
		if d >= 0 && d < n && s.goal[d] != s.gen {
			s.goal[d] = s.gen
			valid = append(valid, d)
			left++
		}
	}
	h := c.setBound(valid)
	t0 := DaySeconds(depart)
	s.dist[src], s.prev[src], s.stamp[src], s.h[src] = 0, -1, s.gen, h(src)
	s.heap.push(item{f: s.h[src], node: src})
	for len(s.heap) > 0 && left > 0 {
		it := s.heap.pop()
		u := it.node
		if s.done[u] == s.gen {
			continue
		}
		s.done[u] = s.gen
		settled++
		if s.goal[u] == s.gen {
			left--
		}
		c.relax(s, u, t0, h)
	}
	for i, d := range dsts {
		if d < 0 || d >= n || s.done[d] != s.gen {
			continue
		}
		r := Reach{OK: true, Seconds: s.dist[d]}
		for v := d; v != src; v = s.prev[v] {
			p := s.prev[v]
			r.DistanceM += float64(c.g.lenM[p][c.g.Slot(p, v)])
		}
		out[i] = r
	}
	return out, settled
}

// PairwiseMax is the most distinct targets for which Travels runs one A* search per target
// rather than one search for all: the landmarks guide a single pair so well that a few pairs
// settle fewer nodes than one search that must reach every target (BenchmarkTravelMatrix).
const PairwiseMax = 12

// Travels finds the fastest travel from src to every node of dsts leaving at depart, indexed
// like dsts: for costs with landmarks and at most PairwiseMax distinct targets one AStar per
// target, otherwise OneToMany. Either way each travel time equals Dijkstra's.
func (c *Costs) Travels(src int32, dsts []int32, depart time.Time) []Reach {
	n := int32(c.g.Len())
	distinct := map[int32]Reach{}
	for _, d := range dsts {
		if d >= 0 && d < n {
			distinct[d] = Reach{}
		}
	}
	if c.alt == nil || len(distinct) > PairwiseMax || src < 0 || src >= n {
		out, _ := c.OneToMany(src, dsts, depart)
		return out
	}
	for d := range distinct {
		if p, err := c.AStar(src, d, depart); err == nil {
			distinct[d] = Reach{OK: true, Seconds: p.Seconds, DistanceM: p.DistanceM}
		}
	}
	out := make([]Reach, len(dsts))
	for i, d := range dsts {
		out[i] = distinct[d] // not OK when d is outside the graph or unreachable
	}
	return out
}

// setBound returns a lower bound on the travel time from a node to the nearest of targets:
// for each landmark L, d(v,T) ≥ min_t d(L,t) − d(L,v) and d(v,T) ≥ d(v,L) − max_t d(t,L). Each
// term is a consistent potential, and so is their maximum. Without landmarks it is zero.
func (c *Costs) setBound(targets []int32) func(v int32) float64 {
	l := c.alt
	if l == nil || len(targets) == 0 {
		return func(int32) float64 { return 0 }
	}
	lo, hi := make([]float64, l.k), make([]float64, l.k)
	for i := range lo {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
		for _, t := range targets {
			lo[i] = min(lo[i], float64(l.from[int(t)*l.k+i]))
			hi[i] = max(hi[i], float64(l.to[int(t)*l.k+i]))
		}
	}
	return func(v int32) float64 {
		best := 0.0
		for i := 0; i < l.k; i++ {
			a, b := lo[i]-float64(l.from[int(v)*l.k+i]), float64(l.to[int(v)*l.k+i])-hi[i]
			if a > best { // false for NaN (a node and targets all unreachable from L)
				best = a
			}
			if b > best {
				best = b
			}
		}
		// float32 landmark sums may round up: shave a relative epsilon to stay admissible.
		return best * (1 - 1e-6)
	}
}

// Status says whether a matrix entry has a travel time.
type Status int8

const (
	// Reached: the entry holds the fastest travel.
	Reached Status = iota
	// Outside: the origin or destination lies outside the graph.
	Outside
	// NoPath: both points lie in the graph but no path joins them.
	NoPath
)

// Entry is one origin–destination travel of a matrix.
type Entry struct {
	Status    Status
	Seconds   float64
	DistanceM float64
}

// TravelMatrix returns the fastest travel from every origin to every destination leaving at
// depart, row-major (origins × destinations), with one Travels per distinct origin over one
// consistent cost version. Its travel times agree with Route's for the same points.
func (p *Planner) TravelMatrix(origins, destinations []h3.LatLng, depart time.Time) []Entry {
	c := p.Costs()
	out := make([]Entry, len(origins)*len(destinations))
	dsts := make([]int32, len(destinations))
	for j, d := range destinations {
		if id, ok := p.g.Locate(d); ok {
			dsts[j] = id
		} else {
			dsts[j] = -1
		}
	}
	rows := map[int32][]Reach{} // by origin node: origins in one cell share a search
	for i, o := range origins {
		row := out[i*len(destinations) : (i+1)*len(destinations)]
		src, ok := p.g.Locate(o)
		if !ok {
			for j := range row {
				row[j].Status = Outside
			}
			continue
		}
		reach, done := rows[src]
		if !done {
			reach = c.Travels(src, dsts, depart)
			rows[src] = reach
		}
		for j, r := range reach {
			switch {
			case dsts[j] < 0:
				row[j].Status = Outside
			case !r.OK:
				row[j].Status = NoPath
			default:
				row[j] = Entry{Status: Reached, Seconds: r.Seconds, DistanceM: r.DistanceM}
			}
		}
	}
	return out
}
