package main

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
)

// roles of the table; "" is an anonymous caller.
var roles = []string{"", "admin", "analyst", "dispatcher", "engineer", "service"}

// allowed lists, per RPC, the roles that pass authorisation, and a call of it.
var allowed = map[string]struct {
	roles []string
	call  func(ctx context.Context, c qualityv1.QualityServiceClient) error
}{
	"CreateMachine": {[]string{"admin", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.CreateMachine(ctx, &qualityv1.CreateMachineRequest{})
		return err
	}},
	"GetMachine": {[]string{"admin", "analyst", "dispatcher", "engineer", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.GetMachine(ctx, &qualityv1.GetMachineRequest{MachineId: "m1"})
		return err
	}},
	"ListMachines": {[]string{"admin", "analyst", "dispatcher", "engineer", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.ListMachines(ctx, &qualityv1.ListMachinesRequest{})
		return err
	}},
	"DeleteMachine": {[]string{"admin"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.DeleteMachine(ctx, &qualityv1.DeleteMachineRequest{MachineId: "nope"})
		return err
	}},
	"CreateSensor": {[]string{"admin", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.CreateSensor(ctx, &qualityv1.CreateSensorRequest{})
		return err
	}},
	"GetSensor": {[]string{"admin", "analyst", "dispatcher", "engineer", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.GetSensor(ctx, &qualityv1.GetSensorRequest{SensorId: "s1"})
		return err
	}},
	"ListSensors": {[]string{"admin", "analyst", "dispatcher", "engineer", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.ListSensors(ctx, &qualityv1.ListSensorsRequest{})
		return err
	}},
	"DeleteSensor": {[]string{"admin"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.DeleteSensor(ctx, &qualityv1.DeleteSensorRequest{SensorId: "nope"})
		return err
	}},
	"GetMachineHealth": {[]string{"admin", "analyst", "dispatcher", "engineer", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.GetMachineHealth(ctx, &qualityv1.GetMachineHealthRequest{MachineId: "m1"})
		return err
	}},
	"ListSensorFaults": {[]string{"admin", "analyst", "dispatcher", "engineer", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		_, err := c.ListSensorFaults(ctx, &qualityv1.ListSensorFaultsRequest{})
		return err
	}},
	"IngestReadings": {[]string{"admin", "service"}, func(ctx context.Context, c qualityv1.QualityServiceClient) error {
		st, err := c.IngestReadings(ctx)
		if err != nil {
			return err
		}
		_, err = st.CloseAndRecv()
		return err
	}},
}

// TestRules calls every RPC as every kind of caller: allowed callers get past authorisation
// (the answer may still be NotFound or InvalidArgument), others get PermissionDenied, and
// anonymous callers Unauthenticated. A method missing from the table fails the test.
func TestRules(t *testing.T) {
	t.Parallel()
	desc := qualityv1.QualityService_ServiceDesc
	var methods []string
	for _, m := range desc.Methods {
		methods = append(methods, m.MethodName)
	}
	for _, s := range desc.Streams {
		methods = append(methods, s.StreamName)
	}
	for _, m := range methods {
		if _, ok := allowed[m]; !ok {
			t.Errorf("%s is missing from the rules table", m)
		}
	}
	q := start(t)
	q.register(t, "m1", "s1")
	for _, m := range methods {
		e := allowed[m]
		for _, role := range roles {
			err := e.call(q.as(t, role), q.client)
			code := status.Code(err)
			ok := false
			for _, r := range e.roles {
				ok = ok || r == role
			}
			switch {
			case role == "" && code != codes.Unauthenticated:
				t.Errorf("%s anonymous: %v, want Unauthenticated", m, err)
			case role != "" && ok && (code == codes.PermissionDenied || code == codes.Unauthenticated):
				t.Errorf("%s as %s: %v, want allowed", m, role, err)
			case role != "" && !ok && code != codes.PermissionDenied:
				t.Errorf("%s as %s: %v, want PermissionDenied", m, role, err)
			}
		}
	}
}
