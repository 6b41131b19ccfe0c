package main

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
)

// roles of the table; "" is an anonymous caller.
var roles = []string{"", "admin", "dispatcher", "engineer", "analyst", "service"}

type client = schedulingv1.SchedulingServiceClient

// allowed lists, per RPC, the roles that pass authorisation, and a call of it. Engineers call
// with their own id (engineer-1).
var allowed = map[string]struct {
	roles []string
	call  func(ctx context.Context, c client) error
}{
	"GetEngineer": {[]string{"admin", "dispatcher", "engineer"}, func(ctx context.Context, c client) error {
		_, err := c.GetEngineer(ctx, &schedulingv1.GetEngineerRequest{Id: "engineer-1"})
		return err
	}},
	"ListEngineers": {[]string{"admin", "dispatcher"}, func(ctx context.Context, c client) error {
		_, err := c.ListEngineers(ctx, &schedulingv1.ListEngineersRequest{})
		return err
	}},
	"UpdateEngineer": {[]string{"admin", "dispatcher"}, func(ctx context.Context, c client) error {
		_, err := c.UpdateEngineer(ctx, &schedulingv1.UpdateEngineerRequest{Engineer: &schedulingv1.Engineer{Id: "nobody"}})
		return err
	}},
	"CreateJob": {[]string{"admin", "dispatcher"}, func(ctx context.Context, c client) error {
		_, err := c.CreateJob(ctx, &schedulingv1.CreateJobRequest{})
		return err
	}},
	"CancelJob": {[]string{"admin", "dispatcher"}, func(ctx context.Context, c client) error {
		_, err := c.CancelJob(ctx, &schedulingv1.CancelJobRequest{Id: "00000000-0000-0000-0000-000000000000"})
		return err
	}},
	"CompleteJob": {[]string{"admin", "dispatcher", "engineer"}, func(ctx context.Context, c client) error {
		_, err := c.CompleteJob(ctx, &schedulingv1.CompleteJobRequest{Id: "00000000-0000-0000-0000-000000000000"})
		return err
	}},
	"ListJobs": {[]string{"admin", "dispatcher"}, func(ctx context.Context, c client) error {
		_, err := c.ListJobs(ctx, &schedulingv1.ListJobsRequest{})
		return err
	}},
	"GetEngineerSchedule": {[]string{"admin", "dispatcher", "engineer"}, func(ctx context.Context, c client) error {
		_, err := c.GetEngineerSchedule(ctx, &schedulingv1.GetEngineerScheduleRequest{EngineerId: "engineer-1", Day: timestamppb.Now()})
		return err
	}},
	"GetCalloutSavings": {[]string{"admin", "dispatcher", "analyst"}, func(ctx context.Context, c client) error {
		_, err := c.GetCalloutSavings(ctx, &schedulingv1.GetCalloutSavingsRequest{From: timestamppb.New(timestamppb.Now().AsTime().AddDate(0, -1, 0))})
		return err
	}},
}

// TestRules calls every RPC as every kind of caller: allowed callers get past authorisation
// (the answer may still be NotFound or InvalidArgument), others get PermissionDenied, and
// anonymous callers Unauthenticated. A method missing from the table fails the test.
func TestRules(t *testing.T) {
	t.Parallel()
	desc := schedulingv1.SchedulingService_ServiceDesc
	for _, m := range desc.Methods {
		if _, ok := allowed[m.MethodName]; !ok {
			t.Errorf("%s is missing from the rules table", m.MethodName)
		}
	}
	u := start(t)
	for _, m := range desc.Methods {
		e := allowed[m.MethodName]
		for _, role := range roles {
			err := e.call(u.as(t, role), u.client)
			code := status.Code(err)
			ok := false
			for _, r := range e.roles {
				ok = ok || r == role
			}
			switch {
			case role == "" && code != codes.Unauthenticated:
				t.Errorf("%s anonymous: %v, want Unauthenticated", m.MethodName, err)
			case role != "" && ok && (code == codes.PermissionDenied || code == codes.Unauthenticated):
				t.Errorf("%s as %s: %v, want allowed", m.MethodName, role, err)
			case role != "" && !ok && code != codes.PermissionDenied:
				t.Errorf("%s as %s: %v, want PermissionDenied", m.MethodName, role, err)
			}
		}
	}
	// An engineer may not read another engineer's schedule.
	_, err := u.client.GetEngineerSchedule(u.as(t, "engineer"), &schedulingv1.GetEngineerScheduleRequest{EngineerId: "someone-else", Day: timestamppb.Now()})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("engineer reading another's schedule: %v, want PermissionDenied", err)
	}
}
