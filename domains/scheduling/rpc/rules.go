// Package rpc implements mesh.scheduling.v1.SchedulingService over the postgres store and the
// dispatcher, with the auth rules of each RPC.
package rpc

import (
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/platform/auth"
)

// Roles as identity names them.
const (
	admin      = "admin"
	dispatcher = "dispatcher"
	engineer   = "engineer"
	analyst    = "analyst"
)

// Rules says who may call each SchedulingService RPC: dispatchers and admins manage engineers
// and jobs; engineers read their own record and schedule and complete their own jobs (the
// handlers check ownership); analysts read the savings.
var Rules = auth.Rules{
	schedulingv1.SchedulingService_GetEngineer_FullMethodName:         auth.AnyRole(dispatcher, admin, engineer),
	schedulingv1.SchedulingService_ListEngineers_FullMethodName:       auth.AnyRole(dispatcher, admin),
	schedulingv1.SchedulingService_UpdateEngineer_FullMethodName:      auth.AnyRole(dispatcher, admin),
	schedulingv1.SchedulingService_CreateJob_FullMethodName:           auth.AnyRole(dispatcher, admin),
	schedulingv1.SchedulingService_CancelJob_FullMethodName:           auth.AnyRole(dispatcher, admin),
	schedulingv1.SchedulingService_CompleteJob_FullMethodName:         auth.AnyRole(dispatcher, admin, engineer),
	schedulingv1.SchedulingService_ListJobs_FullMethodName:            auth.AnyRole(dispatcher, admin),
	schedulingv1.SchedulingService_GetEngineerSchedule_FullMethodName: auth.AnyRole(dispatcher, admin, engineer),
	schedulingv1.SchedulingService_GetCalloutSavings_FullMethodName:   auth.AnyRole(analyst, dispatcher, admin),
}
