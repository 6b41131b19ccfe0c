package route

import (
	"sync/atomic"
	"time"

	"github.com/uber/h3-go/v4"
)

// Planner answers routing questions over one graph with the latest compiled costs. Costs are
// swapped atomically when the model is recompiled; a query uses one consistent version.
type Planner struct {
	g     *Graph
	costs atomic.Pointer[Costs]
}

// NewPlanner returns a planner over g with initial costs c (compiled for g).
func NewPlanner(g *Graph, c *Costs) *Planner {
	p := &Planner{g: g}
	p.costs.Store(c)
	return p
}

// Graph is the planner's graph.
func (p *Planner) Graph() *Graph { return p.g }

// Costs is the current cost version.
func (p *Planner) Costs() *Costs { return p.costs.Load() }

// SetCosts installs a newly compiled version.
func (p *Planner) SetCosts(c *Costs) { p.costs.Store(c) }

// Plan is a planned route between two points.
type Plan struct {
	Cells     []h3.Cell
	Polyline  []h3.LatLng
	DistanceM float64
	Seconds   float64
}

// Route plans the fastest route from origin to destination leaving at depart. ok is false when
// a point lies outside the graph; err is ErrNoPath when they are not connected.
func (p *Planner) Route(origin, destination h3.LatLng, depart time.Time) (Plan, bool, bool, error) {
	a, okA := p.g.Locate(origin)
	b, okB := p.g.Locate(destination)
	if !okA || !okB {
		return Plan{}, okA, okB, nil
	}
	path, err := p.Costs().AStar(a, b, depart)
	if err != nil {
		return Plan{}, true, true, err
	}
	plan := Plan{DistanceM: path.DistanceM, Seconds: path.Seconds}
	for _, n := range path.Nodes {
		c := p.g.Cell(n)
		plan.Cells = append(plan.Cells, c)
		plan.Polyline = append(plan.Polyline, c.LatLng())
	}
	return plan, true, true, nil
}

// Matrix returns the travel times between every pair of nodes leaving at depart, from one
// Travels per node (pairwise A* for a few nodes, one search per row beyond); ErrNoPath when
// two of them are not connected.
func (p *Planner) Matrix(nodes []int32, depart time.Time) ([][]float64, error) {
	c := p.Costs()
	m := make([][]float64, len(nodes))
	for i, src := range nodes {
		m[i] = make([]float64, len(nodes))
		for j, r := range c.Travels(src, nodes, depart) {
			if i == j || src == nodes[j] {
				continue
			}
			if !r.OK {
				return nil, ErrNoPath
			}
			m[i][j] = r.Seconds
		}
	}
	return m, nil
}
