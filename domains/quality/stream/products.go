// Package stream declares the quality domain's data products: the source-aligned raw
// readings, and the clean readings, sensor faults and machine health derived from them by the
// readings filters.
package stream

import (
	"time"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/dataproduct"
)

const (
	owner   = "quality-team"
	contact = "#meshwork-quality"
	service = "mesh.quality.v1.QualityService"
)

// RawReadings is quality.raw-readings.v1: every accepted sensor reading as it arrived over
// NATS, MQTT or gRPC, keyed by machine id (the unit of order of the filters).
// Source-aligned: nothing is filtered yet.
var RawReadings = dataproduct.Product{
	Domain: "quality", Name: "raw-readings", Major: 1, Owner: owner, Contact: contact,
	Description: "Every accepted sensor reading of the factory as devices and gateways sent it " +
		"(NATS, MQTT or gRPC), keyed by machine id, in arrival order per machine. " +
		"Unfiltered: use quality.clean-readings.v1 for analysis.",
	Tags:            []string{"quality", "sensors", "readings", "iot", "source-aligned"},
	Message:         &qualityv1.RawReading{},
	Classification:  dataproduct.ClassInternal,
	Retention:       7 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       5 * time.Minute,
	KeyDescription:  "machine id",
	ServedBy:        []string{service},
}

// CleanReadings is quality.clean-readings.v1: every raw reading with the checks it failed and
// the value to use, keyed by sensor id.
var CleanReadings = dataproduct.Product{
	Domain: "quality", Name: "clean-readings", Major: 1, Owner: owner, Contact: contact,
	Description: "Every raw reading after the quality team's filters: out of range, Hampel " +
		"spikes, stuck-at, dropout, rate of change and drift against peer sensors, with the " +
		"flags it raised and the value to use, so consumers decide what to keep.",
	Tags:            []string{"quality", "sensors", "readings", "outliers", "filtered"},
	Message:         &qualityv1.CleanReading{},
	Classification:  dataproduct.ClassInternal,
	Retention:       30 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       5 * time.Minute,
	Upstreams:       []string{"quality.raw-readings.v1"},
	KeyDescription:  "sensor id",
	ServedBy:        []string{service},
}

// SensorFaults is quality.sensor-faults.v1: a sensor declared faulty after repeated failed
// checks, or cleared after it recovered, keyed by sensor id.
var SensorFaults = dataproduct.Product{
	Domain: "quality", Name: "sensor-faults", Major: 1, Owner: owner, Contact: contact,
	Description: "Sensors declared faulty (spikes, stuck, drift, dropout, out of range, rate " +
		"of change) with the evidence and since when, and their clearance on recovery, keyed " +
		"by sensor id: tells a bad sensor from a bad machine before anyone is called out.",
	Tags:            []string{"quality", "sensors", "faults", "maintenance"},
	Message:         &qualityv1.SensorFault{},
	Classification:  dataproduct.ClassInternal,
	Retention:       365 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       7 * 24 * time.Hour, // faults are rare: a week of silence is still healthy
	Upstreams:       []string{"quality.raw-readings.v1"},
	KeyDescription:  "sensor id",
	ServedBy:        []string{service},
}

// MachineHealth is quality.machine-health.v1: each change of a machine's health (OK, WARN,
// CRITICAL with a reason) computed from clean data with corroboration, keyed by machine id.
var MachineHealth = dataproduct.Product{
	Domain: "quality", Name: "machine-health", Major: 1, Owner: owner, Contact: contact,
	Description: "Each change of a machine's health (OK, WARN, CRITICAL) from clean readings " +
		"only, with the reason and the sensors behind it; CRITICAL needs vibration and " +
		"temperature away from normal together (a rise or a drop), so one faulty sensor never makes it.",
	Tags:            []string{"quality", "machines", "health", "maintenance"},
	Message:         &qualityv1.MachineHealth{},
	Classification:  dataproduct.ClassInternal,
	Retention:       365 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       7 * 24 * time.Hour, // published on change only
	Upstreams:       []string{"quality.clean-readings.v1"},
	KeyDescription:  "machine id",
	ServedBy:        []string{service},
}

// Products lists every product of the domain, in provisioning order.
var Products = []dataproduct.Product{RawReadings, CleanReadings, SensorFaults, MachineHealth}
