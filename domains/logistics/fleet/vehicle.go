// Package fleet holds the logistics fleet: vehicles with their type, capacity, home depot and
// assigned driver. It performs no I/O.
package fleet

import (
	"math"
	"time"

	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/platform/errs"
)

// Type is the kind of vehicle.
type Type string

// Vehicle types.
const (
	Van   Type = "van"
	Truck Type = "truck"
	Car   Type = "car"
	Bike  Type = "bike"
)

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t == Van || t == Truck || t == Car || t == Bike }

// Vehicle is one vehicle. DriverUserID identifies a person (PII).
type Vehicle struct {
	ID           string
	Type         Type
	CapacityKg   float64
	DepotLat     float64
	DepotLng     float64
	DriverUserID string
	CreatedAt    time.Time
}

// Validate returns errs.Invalid naming every bad field (request field names).
func (v Vehicle) Validate() error {
	var vs []errs.Violation
	if !position.ValidVehicleID(v.ID) {
		vs = append(vs, errs.Violation{Field: "vehicle.id", Description: "must be 1-64 letters, digits, '-' or '_'"})
	}
	if !v.Type.Valid() {
		vs = append(vs, errs.Violation{Field: "vehicle.type", Description: "is required"})
	}
	if math.IsNaN(v.CapacityKg) || v.CapacityKg < 0 || v.CapacityKg > 100000 {
		vs = append(vs, errs.Violation{Field: "vehicle.capacity_kg", Description: "must be between 0 and 100000"})
	}
	vs = append(vs, position.ValidLatLng("vehicle.home_depot", v.DepotLat, v.DepotLng)...)
	if len(v.DriverUserID) > 64 {
		vs = append(vs, errs.Violation{Field: "vehicle.driver_user_id", Description: "must be at most 64 characters"})
	}
	if len(vs) > 0 {
		return errs.BadRequest("fleet.Vehicle.Validate", vs...)
	}
	return nil
}
