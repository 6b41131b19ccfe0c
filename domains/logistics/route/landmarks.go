package route

import "math"

// landmarks hold ALT (A*, landmarks, triangle inequality) lower bounds: the distances from and
// to a few far-apart nodes on the graph of lower-bound edge costs (each edge's minimum over
// all buckets). For any nodes v, t and landmark L, d(v,t) ≥ d(L,t) − d(L,v) and
// d(v,t) ≥ d(v,L) − d(t,L) on that graph, and the time-dependent cost is never below it, so the
// bound is admissible and consistent; AStar takes the larger of it and the great-circle bound.
type landmarks struct {
	k    int
	from []float32 // [node*k + i]: d(L_i, node)
	to   []float32 // [node*k + i]: d(node, L_i)
}

// WithLandmarks returns a copy of c whose AStar also uses n ALT landmarks, chosen farthest-first.
// Preprocessing runs 2n one-to-all searches; memory is 8n bytes per node.
func (c *Costs) WithLandmarks(n int) *Costs {
	if n <= 0 {
		return c
	}
	g := c.g
	nodes := g.Len()
	lb := make([]float32, nodes*6)
	for i := range lb {
		lb[i] = float32(math.Inf(1))
		for b := range c.sec {
			lb[i] = min(lb[i], c.sec[b][i])
		}
	}
	lm := &landmarks{k: n, from: make([]float32, nodes*n), to: make([]float32, nodes*n)}
	closest := make([]float32, nodes) // distance to the nearest chosen landmark
	for i := range closest {
		closest[i] = float32(math.Inf(1))
	}
	next := int32(0)
	for i := 0; i < n; i++ {
		fwd := oneToAll(g, lb, next, false)
		if i == 0 {
			// Start from the node farthest from node 0, on the rim of the graph.
			next = argmax(fwd)
			fwd = oneToAll(g, lb, next, false)
		}
		bwd := oneToAll(g, lb, next, true)
		for v := range fwd {
			lm.from[v*n+i], lm.to[v*n+i] = fwd[v], bwd[v]
			closest[v] = min(closest[v], fwd[v])
		}
		next = argmax(closest)
	}
	out := *c
	out.alt = lm
	return &out
}

func argmax(d []float32) int32 {
	best := int32(0)
	for i, v := range d {
		if !math.IsInf(float64(v), 1) && v > d[best] {
			best = int32(i)
		}
	}
	return best
}

// oneToAll runs Dijkstra from src over lower-bound costs; reverse follows edges backwards
// (the distances to src). Unreached nodes stay +Inf.
func oneToAll(g *Graph, lb []float32, src int32, reverse bool) []float32 {
	dist := make([]float32, g.Len())
	for i := range dist {
		dist[i] = float32(math.Inf(1))
	}
	done := make([]bool, g.Len())
	dist[src] = 0
	h := minHeap{{f: 0, node: src}}
	for len(h) > 0 {
		it := h.pop()
		u := it.node
		if done[u] {
			continue
		}
		done[u] = true
		for slot, v := range g.nbr[u] {
			if v == noEdge || done[v] {
				continue
			}
			w := lb[int(u)*6+slot]
			if reverse {
				s := g.Slot(v, u)
				if s < 0 {
					continue
				}
				w = lb[int(v)*6+s]
			}
			if d := dist[u] + w; d < dist[v] {
				dist[v] = d
				h.push(item{f: float64(d), node: v})
			}
		}
	}
	return dist
}

// bound is the ALT lower bound on the cost from v to t.
func (l *landmarks) bound(v, t int32) float64 {
	best := float32(0)
	fv, ft := l.from[int(v)*l.k:int(v)*l.k+l.k], l.from[int(t)*l.k:int(t)*l.k+l.k]
	tv, tt := l.to[int(v)*l.k:int(v)*l.k+l.k], l.to[int(t)*l.k:int(t)*l.k+l.k]
	for i := 0; i < l.k; i++ {
		best = max(best, ft[i]-fv[i], tv[i]-tt[i])
	}
	return float64(best)
}
