package sim

import (
	"context"
	"fmt"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/readings"
)

var kindPB = map[readings.Kind]qualityv1.SensorKind{
	readings.Temperature: qualityv1.SensorKind_SENSOR_KIND_TEMPERATURE,
	readings.Vibration:   qualityv1.SensorKind_SENSOR_KIND_VIBRATION,
	readings.Current:     qualityv1.SensorKind_SENSOR_KIND_CURRENT,
	readings.Pressure:    qualityv1.SensorKind_SENSOR_KIND_PRESSURE,
	readings.Running:     qualityv1.SensorKind_SENSOR_KIND_RUNNING,
}

var units = map[readings.Kind]string{
	readings.Temperature: "degC", readings.Vibration: "mm/s", readings.Current: "A",
	readings.Pressure: "bar", readings.Running: "bool",
}

// Register creates the factory's machines (with their locations) and sensors through
// QualityService; ones that exist already are left as they are, so it can run at every
// start. It returns how many it created.
func Register(ctx context.Context, c qualityv1.QualityServiceClient, f *Factory) (int, error) {
	const op = "sim.Register"
	specs, at := f.Specs(), f.Locations()
	ids := make([]string, 0, len(specs))
	for id := range specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	created := 0
	exists := func(err error) bool { return status.Code(err) == codes.AlreadyExists }
	for _, m := range ids {
		_, err := c.CreateMachine(ctx, &qualityv1.CreateMachineRequest{Machine: &qualityv1.Machine{
			MachineId: m, Site: "sim-plant", Model: "sim-press", Criticality: qualityv1.Criticality_CRITICALITY_MEDIUM,
			Location: &qualityv1.LatLng{Lat: at[m].Lat, Lng: at[m].Lng}}})
		switch {
		case err == nil:
			created++
		case !exists(err):
			return created, fmt.Errorf("%s: machine %s: %w", op, m, err)
		}
		for _, s := range specs[m] {
			_, err := c.CreateSensor(ctx, &qualityv1.CreateSensorRequest{Sensor: &qualityv1.Sensor{
				SensorId: s.ID, MachineId: m, Kind: kindPB[s.Kind], Unit: units[s.Kind],
				MinValue: s.Min, MaxValue: s.Max, ExpectedIntervalMs: s.Interval.Milliseconds()}})
			switch {
			case err == nil:
				created++
			case !exists(err):
				return created, fmt.Errorf("%s: sensor %s: %w", op, s.ID, err)
			}
		}
	}
	return created, nil
}
