// Package rpc implements mesh.quality.v1.QualityService over the postgres registry and
// state, and the gRPC ingestion path for gateways.
package rpc

import (
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/auth"
)

// Rules says who may call each RPC: anyone signed in reads; admins and service accounts (the
// simulator, gateways) change the registry; gateways (service accounts) and admins ingest.
var Rules = auth.Rules{
	qualityv1.QualityService_CreateMachine_FullMethodName:    auth.AnyRole("admin", "service"),
	qualityv1.QualityService_GetMachine_FullMethodName:       auth.Authenticated(),
	qualityv1.QualityService_ListMachines_FullMethodName:     auth.Authenticated(),
	qualityv1.QualityService_DeleteMachine_FullMethodName:    auth.AnyRole("admin"),
	qualityv1.QualityService_CreateSensor_FullMethodName:     auth.AnyRole("admin", "service"),
	qualityv1.QualityService_GetSensor_FullMethodName:        auth.Authenticated(),
	qualityv1.QualityService_ListSensors_FullMethodName:      auth.Authenticated(),
	qualityv1.QualityService_DeleteSensor_FullMethodName:     auth.AnyRole("admin"),
	qualityv1.QualityService_GetMachineHealth_FullMethodName: auth.Authenticated(),
	qualityv1.QualityService_ListSensorFaults_FullMethodName: auth.Authenticated(),
	qualityv1.QualityService_IngestReadings_FullMethodName:   auth.AnyRole("admin", "service"),
}
