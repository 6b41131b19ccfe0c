package chaos

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
)

// The load's machines stand in the logistics city, so scheduling can route engineers to them.
const (
	machineLat = 52.385
	machineLng = 4.925
)

// registerMachines creates the load's machines and sensors with quality (admin token).
func registerMachines(ctx context.Context, conn *grpc.ClientConn, machines []Machine) error {
	q := qualityv1.NewQualityServiceClient(conn)
	for i, m := range machines {
		if _, err := q.CreateMachine(ctx, &qualityv1.CreateMachineRequest{Machine: &qualityv1.Machine{
			MachineId: m.ID, Site: "chaos", Model: "P-400", Criticality: qualityv1.Criticality_CRITICALITY_HIGH,
			Location: &qualityv1.LatLng{Lat: machineLat + 0.002*float64(i), Lng: machineLng}}}); err != nil {
			return fmt.Errorf("chaos: CreateMachine %s: %w", m.ID, err)
		}
		s := m.Sensors()
		for _, sensor := range []*qualityv1.Sensor{
			{SensorId: s[0], Kind: qualityv1.SensorKind_SENSOR_KIND_TEMPERATURE, Unit: "degC", MinValue: -20, MaxValue: 150},
			{SensorId: s[1], Kind: qualityv1.SensorKind_SENSOR_KIND_VIBRATION, Unit: "mm/s", MinValue: 0, MaxValue: 50},
			{SensorId: s[2], Kind: qualityv1.SensorKind_SENSOR_KIND_CURRENT, Unit: "A", MinValue: 0, MaxValue: 100},
		} {
			sensor.MachineId, sensor.ExpectedIntervalMs = m.ID, 1000
			if _, err := q.CreateSensor(ctx, &qualityv1.CreateSensorRequest{Sensor: sensor}); err != nil {
				return fmt.Errorf("chaos: CreateSensor %s: %w", sensor.GetSensorId(), err)
			}
		}
	}
	return nil
}

// crew creates n engineers with identity (meshctl users create), waits for them to reach
// scheduling through identity.users.v1, and gives them every skill, a home in the city and
// shifts around the clock, so every job the load causes can be booked.
func crew(ctx context.Context, m *Mesh, conn *grpc.ClientConn, run string, n int) error {
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("Chaos Engineer %s %d", run, i)
		names = append(names, name)
		if out, err := m.Meshctl(ctx, "users", "create", "--email", fmt.Sprintf("chaos-%s-%d@example.com", run, i),
			"--name", name, "--role", "engineer"); err != nil {
			return fmt.Errorf("chaos: meshctl users create: %v: %s", err, out)
		}
	}
	s := schedulingv1.NewSchedulingServiceClient(conn)
	ids := map[string]string{}
	ok := waitFor(2*time.Minute, func() bool {
		resp, err := s.ListEngineers(ctx, &schedulingv1.ListEngineersRequest{PageSize: 100})
		if err != nil {
			return false
		}
		for _, e := range resp.GetEngineers() {
			ids[e.GetDisplayName()] = e.GetId()
		}
		for _, name := range names {
			if ids[name] == "" {
				return false
			}
		}
		return true
	})
	if !ok {
		return fmt.Errorf("chaos: engineers %v never reached scheduling", names)
	}
	var always []*schedulingv1.Shift
	for d := range int32(7) {
		always = append(always, &schedulingv1.Shift{Weekday: d, StartMinute: 0, EndMinute: 24 * 60})
	}
	for _, name := range names {
		if _, err := s.UpdateEngineer(ctx, &schedulingv1.UpdateEngineerRequest{Engineer: &schedulingv1.Engineer{
			Id: ids[name], Skills: []string{"mechanical", "thermal", "electrical", "general", "sensors"},
			HomeBase: &schedulingv1.LatLng{Lat: 52.37, Lng: 4.90}, Shifts: always}}); err != nil {
			return fmt.Errorf("chaos: UpdateEngineer %s: %w", name, err)
		}
	}
	return nil
}

// withToken adds the admin's bearer token to ctx's outgoing metadata.
func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}
