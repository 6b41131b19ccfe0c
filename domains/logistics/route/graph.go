// Package route holds the logistics routing core: the H3 neighbour graph, the travel-time model
// learned from vehicle pings, A* and Dijkstra over the graph, and stop-order optimisation.
// It performs no I/O.
package route

import (
	"errors"
	"fmt"
	"math"

	"github.com/uber/h3-go/v4"
)

// EarthRadiusM is the mean Earth radius used for distances, in metres.
const EarthRadiusM = 6371008.8

// noEdge marks an absent neighbour slot.
const noEdge = -1

// Graph is the H3 neighbour graph over a fixed set of cells at one resolution. Node ids are
// dense int32 indexes; each node has up to six neighbour slots. A Graph is immutable and safe for
// concurrent use.
type Graph struct {
	res   int
	cells []h3.Cell
	index map[h3.Cell]int32
	nbr   [][6]int32
	lenM  [][6]float32
	xyz   [][3]float64 // unit vectors of cell centres, for chord-distance heuristics
}

// ErrEmptyGraph is returned when a graph would hold no cells.
var ErrEmptyGraph = errors.New("route: graph has no cells")

// NewGraph builds the neighbour graph over cells, which must share one resolution. Neighbours
// outside the set are left out.
func NewGraph(cells []h3.Cell) (*Graph, error) {
	if len(cells) == 0 {
		return nil, ErrEmptyGraph
	}
	g := &Graph{
		res:   cells[0].Resolution(),
		cells: make([]h3.Cell, 0, len(cells)),
		index: make(map[h3.Cell]int32, len(cells)),
	}
	for _, c := range cells {
		if !c.IsValid() {
			return nil, fmt.Errorf("route: new graph: invalid cell %v", c)
		}
		if c.Resolution() != g.res {
			return nil, fmt.Errorf("route: new graph: cell %v has resolution %d, want %d", c, c.Resolution(), g.res)
		}
		if _, dup := g.index[c]; dup {
			continue
		}
		g.index[c] = int32(len(g.cells))
		g.cells = append(g.cells, c)
	}
	n := len(g.cells)
	g.nbr = make([][6]int32, n)
	g.lenM = make([][6]float32, n)
	g.xyz = make([][3]float64, n)
	for i, c := range g.cells {
		g.xyz[i] = unitVector(c.LatLng())
	}
	for i, c := range g.cells {
		slot := 0
		g.nbr[i] = [6]int32{noEdge, noEdge, noEdge, noEdge, noEdge, noEdge}
		for _, d := range c.GridDisk(1) {
			j, ok := g.index[d]
			if !ok || d == c || slot == 6 {
				continue
			}
			g.nbr[i][slot] = j
			g.lenM[i][slot] = float32(g.chordM(int32(i), j))
			slot++
		}
	}
	return g, nil
}

// NewDiskGraph builds the graph over every cell within k grid steps of the cell holding centre.
func NewDiskGraph(centre h3.LatLng, res, k int) (*Graph, error) {
	return NewGraph(h3.LatLngToCell(centre, res).GridDisk(k))
}

// Resolution is the H3 resolution of every cell in the graph.
func (g *Graph) Resolution() int { return g.res }

// Len is the number of cells.
func (g *Graph) Len() int { return len(g.cells) }

// Cell returns the cell of node id.
func (g *Graph) Cell(id int32) h3.Cell { return g.cells[id] }

// Node returns the node id of cell c and whether the graph holds it.
func (g *Graph) Node(c h3.Cell) (int32, bool) {
	id, ok := g.index[c]
	return id, ok
}

// Locate returns the node holding point p, or false when p falls outside the graph.
func (g *Graph) Locate(p h3.LatLng) (int32, bool) {
	return g.Node(h3.LatLngToCell(p, g.res))
}

// Neighbours calls fn for each neighbour of node id with its slot and centre distance in metres.
func (g *Graph) Neighbours(id int32, fn func(slot int, to int32, lenM float64)) {
	for s, to := range g.nbr[id] {
		if to != noEdge {
			fn(s, to, float64(g.lenM[id][s]))
		}
	}
}

// Slot returns the neighbour slot of edge from→to, or -1 when they are not adjacent in the graph.
func (g *Graph) Slot(from, to int32) int {
	for s, n := range g.nbr[from] {
		if n == to {
			return s
		}
	}
	return -1
}

// DistanceM is the great-circle distance between the centres of two nodes in metres.
func (g *Graph) DistanceM(a, b int32) float64 {
	c := g.chordM(a, b)
	return 2 * EarthRadiusM * math.Asin(math.Min(1, c/(2*EarthRadiusM)))
}

// chordM is the straight-line (through the Earth) distance between centres; never more than the
// great-circle distance, so it keeps heuristics admissible.
func (g *Graph) chordM(a, b int32) float64 {
	p, q := g.xyz[a], g.xyz[b]
	dx, dy, dz := p[0]-q[0], p[1]-q[1], p[2]-q[2]
	return EarthRadiusM * math.Sqrt(dx*dx+dy*dy+dz*dz)
}

func unitVector(p h3.LatLng) [3]float64 {
	lat, lng := p.Lat*math.Pi/180, p.Lng*math.Pi/180
	return [3]float64{math.Cos(lat) * math.Cos(lng), math.Cos(lat) * math.Sin(lng), math.Sin(lat)}
}

// GreatCircleM is the great-circle distance between two points in metres.
func GreatCircleM(a, b h3.LatLng) float64 {
	p, q := unitVector(a), unitVector(b)
	dx, dy, dz := p[0]-q[0], p[1]-q[1], p[2]-q[2]
	c := math.Sqrt(dx*dx + dy*dy + dz*dz)
	return 2 * EarthRadiusM * math.Asin(math.Min(1, c/2))
}
