// Package stream declares logistics' data products — vehicle positions, learned cell travel
// times and planned routes — builds their events, and consumes raw pings from NATS
// (ingest.logistics.<vehicle>), dead-lettering malformed ones.
package stream

import (
	"time"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/platform/dataproduct"
)

// Positions is logistics.vehicle-positions.v1: every accepted GPS ping with its H3 cell, keyed by
// vehicle id. Published directly (the position is not stored in Postgres: there is no
// transaction to join); the event id is derived from vehicle and time, so a re-sent ping is
// dropped by the stream's duplicate window.
var Positions = dataproduct.Product{
	Domain:  "logistics",
	Name:    "vehicle-positions",
	Major:   1,
	Owner:   "logistics-team",
	Contact: "#meshwork-logistics",
	Description: "Every accepted GPS ping of the fleet with its H3 cell, keyed by vehicle id. " +
		"Late pings are included; pings implying an impossible jump are flagged suspect.",
	Tags:            []string{"logistics", "fleet", "gps", "h3", "positions"},
	Message:         &logisticsv1.VehiclePosition{},
	Classification:  dataproduct.ClassInternal,
	Retention:       7 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       5 * time.Minute,
	KeyDescription:  "vehicle id",
	ServedBy:        []string{"mesh.logistics.v1.LogisticsService"},
}

// TravelTimes is logistics.cell-travel-times.v1: the learned traversal times leaving each H3
// cell, per time-of-day bucket, published periodically through the outbox for every cell whose
// edges changed. Fleet management reads it to see how routes change.
var TravelTimes = dataproduct.Product{
	Domain:  "logistics",
	Name:    "cell-travel-times",
	Major:   1,
	Owner:   "logistics-team",
	Contact: "#meshwork-logistics",
	Description: "Learned travel times from each H3 cell to its neighbours per time-of-day bucket, " +
		"keyed by origin cell; a snapshot per changed cell at every publication interval.",
	Tags:            []string{"logistics", "h3", "travel-times", "routing"},
	Message:         &logisticsv1.CellTravelTimes{},
	Classification:  dataproduct.ClassInternal,
	Retention:       30 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       time.Hour,
	Upstreams:       []string{"logistics.vehicle-positions.v1"},
	KeyDescription:  "origin H3 cell",
	ServedBy:        []string{"mesh.logistics.v1.LogisticsService"},
}

// Routes is logistics.routes.v1: every route PlanRoute planned, keyed by route id.
var Routes = dataproduct.Product{
	Domain:          "logistics",
	Name:            "routes",
	Major:           1,
	Owner:           "logistics-team",
	Contact:         "#meshwork-logistics",
	Description:     "Every route planned by the logistics service: H3 cells, distance and ETA, keyed by route id.",
	Tags:            []string{"logistics", "routing", "h3", "eta"},
	Message:         &logisticsv1.PlannedRoute{},
	Classification:  dataproduct.ClassInternal,
	Retention:       30 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       24 * time.Hour, // dispatchers plan every working day
	Upstreams:       []string{"logistics.cell-travel-times.v1"},
	KeyDescription:  "route id",
	ServedBy:        []string{"mesh.logistics.v1.LogisticsService"},
}

// All is every product of the domain, for provisioning and catalog registration.
var All = []dataproduct.Product{Positions, TravelTimes, Routes}
