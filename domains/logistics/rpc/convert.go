package rpc

import (
	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/fleet"
)

var types = map[logisticsv1.VehicleType]fleet.Type{
	logisticsv1.VehicleType_VEHICLE_TYPE_VAN:   fleet.Van,
	logisticsv1.VehicleType_VEHICLE_TYPE_TRUCK: fleet.Truck,
	logisticsv1.VehicleType_VEHICLE_TYPE_CAR:   fleet.Car,
	logisticsv1.VehicleType_VEHICLE_TYPE_BIKE:  fleet.Bike,
}

func typeToProto(t fleet.Type) logisticsv1.VehicleType {
	for k, v := range types {
		if v == t {
			return k
		}
	}
	return logisticsv1.VehicleType_VEHICLE_TYPE_UNSPECIFIED
}

func vehicleFromProto(v *logisticsv1.Vehicle) fleet.Vehicle {
	out := fleet.Vehicle{
		ID: v.GetId(), Type: types[v.GetType()], CapacityKg: v.GetCapacityKg(),
		DepotLat: v.GetHomeDepot().GetLat(), DepotLng: v.GetHomeDepot().GetLng(), DriverUserID: v.GetDriverUserId(),
	}
	if v.GetHomeDepot() == nil {
		out.DepotLat, out.DepotLng = 999, 999
	}
	return out
}

func vehicleToProto(v fleet.Vehicle) *logisticsv1.Vehicle {
	return &logisticsv1.Vehicle{
		Id: v.ID, Type: typeToProto(v.Type), CapacityKg: v.CapacityKg,
		HomeDepot: &logisticsv1.LatLng{Lat: v.DepotLat, Lng: v.DepotLng}, DriverUserId: v.DriverUserID,
		CreatedAt: timestamppb.New(v.CreatedAt),
	}
}

func latLng(p *logisticsv1.LatLng) h3.LatLng { return h3.NewLatLng(p.GetLat(), p.GetLng()) }

func toLatLng(p h3.LatLng) *logisticsv1.LatLng { return &logisticsv1.LatLng{Lat: p.Lat, Lng: p.Lng} }
