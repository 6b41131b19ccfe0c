package rpc

import (
	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/platform/auth"
)

// Rules says who may call each LogisticsService RPC. The fleet (with drivers' user ids) is
// managed by admins and dispatchers; pings come from service accounts (vehicle gateways,
// fleet-sim); routing, stop orders and travel matrices are open to everyone who plans or
// drives (scheduling calls them with its service account); finding vehicles is dispatch work.
var Rules = auth.Rules{
	logisticsv1.LogisticsService_CreateVehicle_FullMethodName:   auth.AnyRole("admin", "dispatcher"),
	logisticsv1.LogisticsService_GetVehicle_FullMethodName:      auth.AnyRole("admin", "dispatcher"),
	logisticsv1.LogisticsService_UpdateVehicle_FullMethodName:   auth.AnyRole("admin", "dispatcher"),
	logisticsv1.LogisticsService_DeleteVehicle_FullMethodName:   auth.AnyRole("admin", "dispatcher"),
	logisticsv1.LogisticsService_ListVehicles_FullMethodName:    auth.AnyRole("admin", "dispatcher"),
	logisticsv1.LogisticsService_IngestPositions_FullMethodName: auth.AnyRole("admin", "service"),
	logisticsv1.LogisticsService_PlanRoute_FullMethodName:       auth.AnyRole("admin", "dispatcher", "engineer", "service"),
	logisticsv1.LogisticsService_OptimizeStops_FullMethodName:   auth.AnyRole("admin", "dispatcher", "engineer", "service"),
	logisticsv1.LogisticsService_GetTravelMatrix_FullMethodName: auth.AnyRole("admin", "dispatcher", "engineer", "service"),
	logisticsv1.LogisticsService_NearestVehicles_FullMethodName: auth.AnyRole("admin", "dispatcher", "service"),
}
