package route

import (
	"errors"
	"sync"
	"time"
)

// ErrNoPath is returned when the destination cannot be reached inside the graph.
var ErrNoPath = errors.New("route: no path")

// Path is a route through the graph.
type Path struct {
	// Nodes from origin to destination, both included.
	Nodes []int32
	// Seconds is the travel time, following the time-of-day buckets along the way.
	Seconds float64
	// DistanceM sums the centre-to-centre distances.
	DistanceM float64
	// Settled counts nodes the search settled; a measure of its work.
	Settled int
}

// AStar finds the fastest path from src to dst leaving at depart, guided by the admissible
// heuristic great-circle distance ÷ the maximum speed in the model (and, for costs built with
// WithLandmarks, the larger ALT bound). Its travel time equals Dijkstra's.
func (c *Costs) AStar(src, dst int32, depart time.Time) (Path, error) {
	return c.search(src, dst, depart, true)
}

// Dijkstra finds the fastest path without a heuristic; the baseline for AStar.
func (c *Costs) Dijkstra(src, dst int32, depart time.Time) (Path, error) {
	return c.search(src, dst, depart, false)
}

// PathSeconds is the travel time of following nodes leaving at depart, or false when two
// consecutive nodes are not adjacent.
func (c *Costs) PathSeconds(nodes []int32, depart time.Time) (float64, bool) {
	t := DaySeconds(depart)
	total := 0.0
	for i := 1; i < len(nodes); i++ {
		s := c.g.Slot(nodes[i-1], nodes[i])
		if s < 0 {
			return 0, false
		}
		d := c.Edge(nodes[i-1], s, t+total)
		total += d
	}
	return total, true
}

type searcher struct {
	dist  []float64
	h     []float64
	prev  []int32
	stamp []uint32
	done  []uint32
	// goal marks OneToMany's targets (goal[v] == gen); allocated by the first OneToMany.
	goal []uint32
	gen  uint32
	heap minHeap
}

var searchers sync.Pool

func (c *Costs) getSearcher() *searcher {
	n := c.g.Len()
	s, _ := searchers.Get().(*searcher)
	if s == nil || len(s.dist) != n {
		s = &searcher{dist: make([]float64, n), h: make([]float64, n), prev: make([]int32, n), stamp: make([]uint32, n), done: make([]uint32, n)}
	}
	s.gen++
	if s.gen == 0 { // wrapped: clear stamps once every 4 billion searches
		clear(s.stamp)
		clear(s.done)
		clear(s.goal)
		s.gen = 1
	}
	s.heap = s.heap[:0]
	return s
}

// relax offers each unsettled neighbour of the just-settled node u the travel through u,
// leaving u at its travel time from a departure at t0 (seconds into the day); h is the search's
// potential (zero for Dijkstra).
func (c *Costs) relax(s *searcher, u int32, t0 float64, h func(int32) float64) {
	du := s.dist[u]
	row := c.sec[c.bucketAt(t0+du)][int(u)*6 : int(u)*6+6]
	for slot, v := range c.g.nbr[u] {
		if v == noEdge || s.done[v] == s.gen {
			continue
		}
		dv := du + float64(row[slot])
		if s.stamp[v] != s.gen {
			s.stamp[v], s.dist[v], s.prev[v], s.h[v] = s.gen, dv, u, h(v)
			s.heap.push(item{f: dv + s.h[v], node: v})
		} else if dv < s.dist[v] {
			s.dist[v], s.prev[v] = dv, u
			s.heap.push(item{f: dv + s.h[v], node: v})
		}
	}
}

func (c *Costs) search(src, dst int32, depart time.Time, guided bool) (Path, error) {
	n := int32(c.g.Len())
	if src < 0 || src >= n || dst < 0 || dst >= n {
		return Path{}, ErrNoPath
	}
	s := c.getSearcher()
	defer searchers.Put(s)
	t0 := DaySeconds(depart)
	inv := 1 / c.maxSpeed
	h := func(u int32) float64 {
		if !guided {
			return 0
		}
		gc := c.g.chordM(u, dst) * inv
		if c.alt != nil {
			// float32 landmark sums may round up: shave a relative epsilon to stay admissible.
			return max(gc, c.alt.bound(u, dst)*(1-1e-6))
		}
		return gc
	}
	s.dist[src], s.prev[src], s.stamp[src], s.h[src] = 0, -1, s.gen, h(src)
	s.heap.push(item{f: s.h[src], node: src})
	settled := 0
	for len(s.heap) > 0 {
		it := s.heap.pop()
		u := it.node
		if s.done[u] == s.gen {
			continue
		}
		s.done[u] = s.gen
		settled++
		if u == dst {
			break
		}
		c.relax(s, u, t0, h)
	}
	if s.done[dst] != s.gen {
		return Path{Settled: settled}, ErrNoPath
	}
	var nodes []int32
	for v := dst; v != -1; v = s.prev[v] {
		nodes = append(nodes, v)
	}
	for i, j := 0, len(nodes)-1; i < j; i, j = i+1, j-1 {
		nodes[i], nodes[j] = nodes[j], nodes[i]
	}
	p := Path{Nodes: nodes, Seconds: s.dist[dst], Settled: settled}
	for i := 1; i < len(nodes); i++ {
		p.DistanceM += float64(c.g.lenM[nodes[i-1]][c.g.Slot(nodes[i-1], nodes[i])])
	}
	return p, nil
}

type item struct {
	f    float64
	node int32
}

// minHeap is a binary heap on f, kept by hand to avoid container/heap's interface calls.
type minHeap []item

func (h *minHeap) push(it item) {
	*h = append(*h, it)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].f <= a[i].f {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *minHeap) pop() item {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(a) {
			break
		}
		m := l
		if r := l + 1; r < len(a) && a[r].f < a[l].f {
			m = r
		}
		if a[i].f <= a[m].f {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
