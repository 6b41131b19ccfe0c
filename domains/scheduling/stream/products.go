// Package stream declares the data products scheduling publishes (scheduling.service-jobs.v1)
// and the upstream products it consumes (identity.users.v1, quality.machine-health.v1,
// quality.sensor-faults.v1, logistics.cell-travel-times.v1), as dataproduct.Product values.
package stream

import (
	"time"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/platform/dataproduct"
)

// Domain is this domain's name, used for durable consumer names (scheduling--…).
const Domain = "scheduling"

// ServiceJobs is scheduling.service-jobs.v1: the lifecycle of every service job (opened,
// assigned, reprioritised, completed, cancelled) with the cause, keyed by job id.
var ServiceJobs = dataproduct.Product{
	Domain: Domain, Name: "service-jobs", Major: 1,
	Owner: "scheduling-team", Contact: "#meshwork-scheduling",
	Description: "Each change of a service job — opened from machine health or a sensor fault, " +
		"assigned to an engineer and a slot, reprioritised, completed or cancelled — with the " +
		"cause, keyed by job id. Confidential: carries the assigned engineer's user id.",
	Tags:            []string{"scheduling", "maintenance", "jobs", "engineers"},
	Message:         &schedulingv1.ServiceJobChanged{},
	Classification:  dataproduct.ClassConfidential,
	Retention:       365 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute, // the outbox relay needs it
	Freshness:       7 * 24 * time.Hour,
	Upstreams:       []string{"identity.users.v1", "quality.machine-health.v1", "quality.sensor-faults.v1", "logistics.cell-travel-times.v1"},
	KeyDescription:  "job id",
	ServedBy:        []string{"mesh.scheduling.v1.SchedulingService"},
}

// Products lists the products scheduling provisions.
var Products = []dataproduct.Product{ServiceJobs}

// Users is identity.users.v1 as consumed here (identity provisions it).
var Users = dataproduct.Product{
	Domain: "identity", Name: "users", Major: 1, Owner: "identity-team", Contact: "#meshwork-identity",
	Description: "Accounts of the mesh, keyed by user id (declared by identity).",
	Message:     &identityv1.UserChanged{}, Classification: dataproduct.ClassConfidential,
	KeyDescription: "user id",
}

// MachineHealth is quality.machine-health.v1 as consumed here (quality provisions it).
var MachineHealth = dataproduct.Product{
	Domain: "quality", Name: "machine-health", Major: 1, Owner: "quality-team", Contact: "#meshwork-quality",
	Description: "Changes of a machine's health, keyed by machine id (declared by quality).",
	Message:     &qualityv1.MachineHealth{}, Classification: dataproduct.ClassInternal,
	KeyDescription: "machine id",
}

// SensorFaults is quality.sensor-faults.v1 as consumed here (quality provisions it).
var SensorFaults = dataproduct.Product{
	Domain: "quality", Name: "sensor-faults", Major: 1, Owner: "quality-team", Contact: "#meshwork-quality",
	Description: "Sensors declared faulty or cleared, keyed by sensor id (declared by quality).",
	Message:     &qualityv1.SensorFault{}, Classification: dataproduct.ClassInternal,
	KeyDescription: "sensor id",
}

// TravelTimes is logistics.cell-travel-times.v1 as consumed here (logistics provisions it):
// a change of learned travel times makes the cached ones stale and the plans worth redoing.
var TravelTimes = dataproduct.Product{
	Domain: "logistics", Name: "cell-travel-times", Major: 1, Owner: "logistics-team", Contact: "#meshwork-logistics",
	Description: "Learned travel times leaving each H3 cell, keyed by origin cell (declared by logistics).",
	Message:     &logisticsv1.CellTravelTimes{}, Classification: dataproduct.ClassInternal,
	KeyDescription: "origin H3 cell",
}

// Upstreams lists the products scheduling consumes.
var Upstreams = []dataproduct.Product{Users, MachineHealth, SensorFaults, TravelTimes}
