// Package sim is the fleet simulator's core: a synthetic city on the H3 grid with fast arterial
// roads, slow side streets, a congested old town and rush hours, and vans that drive it and
// report noisy GPS pings. The city's own travel times are the ground truth against which the
// learned model is evaluated. It performs no I/O.
package sim

import (
	"fmt"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/route"
)

// Zone is the kind of street a cell stands for.
type Zone int

// Zones of the city, from fastest to slowest.
const (
	Arterial Zone = iota + 1
	SideStreet
	OldTown
)

// CityConfig shapes a synthetic city.
type CityConfig struct {
	// Centre of the city. Default Amsterdam-ish (52.37, 4.90).
	Centre h3.LatLng
	// Resolution of the cells. Default 9.
	Resolution int
	// Radius in grid steps. Default 25.
	Radius int
	// ArterialEvery puts an arterial on every n-th grid line of both local axes. Default 8.
	ArterialEvery int
	// OldTownRadius is the radius in steps of the slow old town, centred a few steps off the
	// city centre. Default 5.
	OldTownRadius int
	// Speeds in metres per second off-peak. Defaults 16, 6, 2.5.
	ArterialMPS, SideStreetMPS, OldTownMPS float64
}

func (c CityConfig) withDefaults() CityConfig {
	if c.Centre == (h3.LatLng{}) {
		c.Centre = h3.NewLatLng(52.37, 4.90)
	}
	if c.Resolution == 0 {
		c.Resolution = 9
	}
	if c.Radius == 0 {
		c.Radius = 25
	}
	if c.ArterialEvery == 0 {
		c.ArterialEvery = 8
	}
	if c.OldTownRadius == 0 {
		c.OldTownRadius = 5
	}
	if c.ArterialMPS == 0 {
		c.ArterialMPS = 16
	}
	if c.SideStreetMPS == 0 {
		c.SideStreetMPS = 6
	}
	if c.OldTownMPS == 0 {
		c.OldTownMPS = 2.5
	}
	return c
}

// City is a synthetic city: a graph, a zone per cell and time-of-day dependent speeds.
type City struct {
	cfg     CityConfig
	graph   *route.Graph
	zone    []Zone
	oldTown h3.Cell
	truth   *route.Costs
}

// NewCity builds a city.
func NewCity(cfg CityConfig) (*City, error) {
	cfg = cfg.withDefaults()
	g, err := route.NewDiskGraph(cfg.Centre, cfg.Resolution, cfg.Radius)
	if err != nil {
		return nil, fmt.Errorf("sim: new city: %w", err)
	}
	origin := h3.LatLngToCell(cfg.Centre, cfg.Resolution)
	oij := h3.CellToLocalIJ(origin, origin)
	ot := h3.LocalIJToCell(origin, h3.CoordIJ{I: oij.I + 3, J: oij.J + 3})
	c := &City{cfg: cfg, graph: g, zone: make([]Zone, g.Len()), oldTown: ot}
	for i := range c.zone {
		cell := g.Cell(int32(i))
		ij := h3.CellToLocalIJ(origin, cell)
		ij.I, ij.J = ij.I-oij.I, ij.J-oij.J
		switch {
		case cell.GridDistance(ot) <= cfg.OldTownRadius:
			c.zone[i] = OldTown
		case mod(ij.I, cfg.ArterialEvery) == 0 || mod(ij.J, cfg.ArterialEvery) == 0:
			c.zone[i] = Arterial
		default:
			c.zone[i] = SideStreet
		}
	}
	c.truth, err = route.NewCosts(g, 24, 60, func(from, to int32, lenM float64, bucket int) float64 {
		return lenM/2/c.SpeedMPS(from, bucket) + lenM/2/c.SpeedMPS(to, bucket)
	})
	if err != nil {
		return nil, fmt.Errorf("sim: new city: %w", err)
	}
	return c, nil
}

func mod(a, n int) int { return ((a % n) + n) % n }

// Graph is the city's cell graph.
func (c *City) Graph() *route.Graph { return c.graph }

// Zone is the zone of node id.
func (c *City) Zone(id int32) Zone { return c.zone[id] }

// OldTown is the centre cell of the slow old town.
func (c *City) OldTown() h3.Cell { return c.oldTown }

// Truth is the ground-truth travel time of every edge per hour of the day.
func (c *City) Truth() *route.Costs { return c.truth }

// RushHour reports whether hour (UTC) is in the morning (7–9) or evening (16–18) rush.
func RushHour(hour int) bool { return hour == 7 || hour == 8 || hour == 16 || hour == 17 }

// SpeedMPS is the true speed through node id during hour (UTC). Rush hours slow arterials to
// under half speed and side streets by a fifth.
func (c *City) SpeedMPS(id int32, hour int) float64 {
	rush := RushHour(hour)
	switch c.zone[id] {
	case Arterial:
		if rush {
			return c.cfg.ArterialMPS * 0.45
		}
		return c.cfg.ArterialMPS
	case OldTown:
		return c.cfg.OldTownMPS
	default:
		if rush {
			return c.cfg.SideStreetMPS * 0.8
		}
		return c.cfg.SideStreetMPS
	}
}
