package rpc

import (
	"context"
	"errors"
	"io"
	"math"
	"regexp"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/ingest"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// Handler serves QualityService.
type Handler struct {
	qualityv1.UnimplementedQualityServiceServer
	reg   *postgres.Registry
	state *postgres.State
	raw   *dataproduct.Publisher
}

// New returns the handler; raw publishes to quality.raw-readings.v1.
func New(reg *postgres.Registry, state *postgres.State, raw *dataproduct.Publisher) *Handler {
	return &Handler{reg: reg, state: state, raw: raw}
}

// id is a machine or sensor id: one NATS subject token and one MQTT topic level.
var id = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

const idRule = "must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit"

func checkID(op, field, v string) error {
	if !id.MatchString(v) {
		return errs.BadRequest(op, errs.Violation{Field: field, Description: idRule})
	}
	return nil
}

const defaultPage = 100

func page(size int32) int {
	if size <= 0 || size > 1000 {
		return defaultPage
	}
	return int(size)
}

// CreateMachine registers a machine.
func (h *Handler) CreateMachine(ctx context.Context, req *qualityv1.CreateMachineRequest) (*qualityv1.CreateMachineResponse, error) {
	const op = "rpc.CreateMachine"
	m := req.GetMachine()
	var v []errs.Violation
	if !id.MatchString(m.GetMachineId()) {
		v = append(v, errs.Violation{Field: "machine.machine_id", Description: idRule})
	}
	if m.GetSite() == "" {
		v = append(v, errs.Violation{Field: "machine.site", Description: "is required"})
	}
	if c := m.GetCriticality(); c == qualityv1.Criticality_CRITICALITY_UNSPECIFIED || qualityv1.Criticality_name[int32(c)] == "" {
		v = append(v, errs.Violation{Field: "machine.criticality", Description: "must be LOW, MEDIUM or HIGH"})
	}
	v = append(v, checkLocation(m.GetLocation())...)
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	out, err := h.reg.CreateMachine(ctx, postgres.Machine{ID: m.GetMachineId(), Site: m.GetSite(), Model: m.GetModel(),
		Criticality: int(m.GetCriticality()), Location: locationOf(m.GetLocation())})
	if err != nil {
		return nil, err
	}
	return &qualityv1.CreateMachineResponse{Machine: machinePB(out)}, nil
}

// GetMachine returns one machine.
func (h *Handler) GetMachine(ctx context.Context, req *qualityv1.GetMachineRequest) (*qualityv1.GetMachineResponse, error) {
	if err := checkID("rpc.GetMachine", "machine_id", req.GetMachineId()); err != nil {
		return nil, err
	}
	m, err := h.reg.GetMachine(ctx, req.GetMachineId())
	if err != nil {
		return nil, err
	}
	return &qualityv1.GetMachineResponse{Machine: machinePB(m)}, nil
}

// ListMachines lists machines by id.
func (h *Handler) ListMachines(ctx context.Context, req *qualityv1.ListMachinesRequest) (*qualityv1.ListMachinesResponse, error) {
	n := page(req.GetPageSize())
	list, err := h.reg.ListMachines(ctx, req.GetSite(), req.GetPageToken(), n)
	if err != nil {
		return nil, err
	}
	resp := &qualityv1.ListMachinesResponse{}
	for _, m := range list {
		resp.Machines = append(resp.Machines, machinePB(m))
	}
	if len(list) == n {
		resp.NextPageToken = list[n-1].ID
	}
	return resp, nil
}

// DeleteMachine removes a machine and its sensors.
func (h *Handler) DeleteMachine(ctx context.Context, req *qualityv1.DeleteMachineRequest) (*qualityv1.DeleteMachineResponse, error) {
	if err := checkID("rpc.DeleteMachine", "machine_id", req.GetMachineId()); err != nil {
		return nil, err
	}
	if err := h.reg.DeleteMachine(ctx, req.GetMachineId()); err != nil {
		return nil, err
	}
	return &qualityv1.DeleteMachineResponse{}, nil
}

var kinds = map[qualityv1.SensorKind]readings.Kind{
	qualityv1.SensorKind_SENSOR_KIND_TEMPERATURE: readings.Temperature,
	qualityv1.SensorKind_SENSOR_KIND_VIBRATION:   readings.Vibration,
	qualityv1.SensorKind_SENSOR_KIND_CURRENT:     readings.Current,
	qualityv1.SensorKind_SENSOR_KIND_PRESSURE:    readings.Pressure,
	qualityv1.SensorKind_SENSOR_KIND_RUNNING:     readings.Running,
}

// CreateSensor registers a sensor on a machine.
func (h *Handler) CreateSensor(ctx context.Context, req *qualityv1.CreateSensorRequest) (*qualityv1.CreateSensorResponse, error) {
	const op = "rpc.CreateSensor"
	s := req.GetSensor()
	var v []errs.Violation
	if !id.MatchString(s.GetSensorId()) {
		v = append(v, errs.Violation{Field: "sensor.sensor_id", Description: idRule})
	}
	if !id.MatchString(s.GetMachineId()) {
		v = append(v, errs.Violation{Field: "sensor.machine_id", Description: idRule})
	}
	kind, ok := kinds[s.GetKind()]
	if !ok {
		v = append(v, errs.Violation{Field: "sensor.kind", Description: "must be a known sensor kind"})
	}
	if !(s.GetMinValue() < s.GetMaxValue()) {
		v = append(v, errs.Violation{Field: "sensor.max_value", Description: "must be greater than min_value"})
	}
	if s.GetExpectedIntervalMs() <= 0 {
		v = append(v, errs.Violation{Field: "sensor.expected_interval_ms", Description: "must be positive"})
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	spec := readings.Spec{ID: s.GetSensorId(), Machine: s.GetMachineId(), Kind: kind, Min: s.GetMinValue(), Max: s.GetMaxValue(),
		Interval: time.Duration(s.GetExpectedIntervalMs()) * time.Millisecond}
	if err := h.reg.CreateSensor(ctx, spec, s.GetUnit()); err != nil {
		return nil, err
	}
	return &qualityv1.CreateSensorResponse{Sensor: sensorPB(spec, s.GetUnit())}, nil
}

// GetSensor returns one sensor.
func (h *Handler) GetSensor(ctx context.Context, req *qualityv1.GetSensorRequest) (*qualityv1.GetSensorResponse, error) {
	if err := checkID("rpc.GetSensor", "sensor_id", req.GetSensorId()); err != nil {
		return nil, err
	}
	s, unit, err := h.reg.GetSensor(ctx, req.GetSensorId())
	if err != nil {
		return nil, err
	}
	return &qualityv1.GetSensorResponse{Sensor: sensorPB(s, unit)}, nil
}

// ListSensors lists sensors by id.
func (h *Handler) ListSensors(ctx context.Context, req *qualityv1.ListSensorsRequest) (*qualityv1.ListSensorsResponse, error) {
	n := page(req.GetPageSize())
	list, units, err := h.reg.ListSensorsWithUnits(ctx, req.GetMachineId(), req.GetPageToken(), n)
	if err != nil {
		return nil, err
	}
	resp := &qualityv1.ListSensorsResponse{}
	for _, s := range list {
		resp.Sensors = append(resp.Sensors, sensorPB(s, units[s.ID]))
	}
	if len(list) == n {
		resp.NextPageToken = list[n-1].ID
	}
	return resp, nil
}

// DeleteSensor removes a sensor.
func (h *Handler) DeleteSensor(ctx context.Context, req *qualityv1.DeleteSensorRequest) (*qualityv1.DeleteSensorResponse, error) {
	if err := checkID("rpc.DeleteSensor", "sensor_id", req.GetSensorId()); err != nil {
		return nil, err
	}
	if err := h.reg.DeleteSensor(ctx, req.GetSensorId()); err != nil {
		return nil, err
	}
	return &qualityv1.DeleteSensorResponse{}, nil
}

// GetMachineHealth returns the machine's committed health.
func (h *Handler) GetMachineHealth(ctx context.Context, req *qualityv1.GetMachineHealthRequest) (*qualityv1.GetMachineHealthResponse, error) {
	if err := checkID("rpc.GetMachineHealth", "machine_id", req.GetMachineId()); err != nil {
		return nil, err
	}
	if _, err := h.reg.GetMachine(ctx, req.GetMachineId()); err != nil {
		return nil, err
	}
	m, err := h.state.Snapshot(ctx, req.GetMachineId())
	if err != nil {
		return nil, err
	}
	if m == nil {
		return &qualityv1.GetMachineHealthResponse{Health: &qualityv1.MachineHealth{MachineId: req.GetMachineId(),
			Status: qualityv1.HealthStatus_HEALTH_STATUS_OK}}, nil
	}
	hv := pipeline.HealthEvent(&readings.HealthEvent{Machine: m.ID, Status: m.Status, Reason: m.Reason, Sensors: m.Evidence, Time: m.Since})
	if m.Since == 0 {
		hv.AssessedAt = nil
	}
	return &qualityv1.GetMachineHealthResponse{Health: hv}, nil
}

// ListSensorFaults lists standing faults.
func (h *Handler) ListSensorFaults(ctx context.Context, req *qualityv1.ListSensorFaultsRequest) (*qualityv1.ListSensorFaultsResponse, error) {
	if req.GetMachineId() != "" {
		if err := checkID("rpc.ListSensorFaults", "machine_id", req.GetMachineId()); err != nil {
			return nil, err
		}
	}
	faults, err := h.state.Faults(ctx, req.GetMachineId())
	if err != nil {
		return nil, err
	}
	resp := &qualityv1.ListSensorFaultsResponse{}
	for i := range faults {
		resp.Faults = append(resp.Faults, pipeline.FaultEvent(&faults[i]))
	}
	return resp, nil
}

// IngestReadings forwards a gateway's readings to raw-readings and answers with the refusals.
func (h *Handler) IngestReadings(stream grpc.ClientStreamingServer[qualityv1.IngestReadingsRequest, qualityv1.IngestReadingsResponse]) error {
	ctx := stream.Context()
	resp := &qualityv1.IngestReadingsResponse{}
	for i := int64(0); ; i++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(resp)
		}
		if err != nil {
			return err
		}
		r := &qualityv1.RawReading{MachineId: req.GetMachineId(), SensorId: req.GetSensorId(), SampledAt: req.GetSampledAt(),
			Value: req.GetValue(), DeviceSeq: req.GetDeviceSeq(), Channel: qualityv1.IngestChannel_INGEST_CHANNEL_GRPC}
		if err := ingest.Validate(r, h.reg, time.Now()); err != nil {
			resp.Refusals = append(resp.Refusals, &qualityv1.Refusal{Index: i, SensorId: req.GetSensorId(), Reason: err.Error()})
			continue
		}
		if err := pipeline.Forward(ctx, h.raw, r); err != nil {
			return errs.Errorf("rpc.IngestReadings", errs.Unavailable, "reading %d not stored: %v", i, err)
		}
		resp.Accepted++
	}
}

func machinePB(m postgres.Machine) *qualityv1.Machine {
	out := &qualityv1.Machine{MachineId: m.ID, Site: m.Site, Model: m.Model,
		Criticality: qualityv1.Criticality(m.Criticality), CreatedAt: timestamppb.New(m.CreatedAt)}
	if l := m.Location; l != nil {
		out.Location = &qualityv1.LatLng{Lat: l.Lat, Lng: l.Lng}
	}
	return out
}

// checkLocation validates an optional location: finite, lat in [-90, 90], lng in [-180, 180].
func checkLocation(l *qualityv1.LatLng) []errs.Violation {
	if l == nil {
		return nil
	}
	var v []errs.Violation
	if lat := l.GetLat(); math.IsNaN(lat) || lat < -90 || lat > 90 {
		v = append(v, errs.Violation{Field: "machine.location.lat", Description: "must be a latitude in degrees, -90 to 90"})
	}
	if lng := l.GetLng(); math.IsNaN(lng) || lng < -180 || lng > 180 {
		v = append(v, errs.Violation{Field: "machine.location.lng", Description: "must be a longitude in degrees, -180 to 180"})
	}
	return v
}

// locationOf converts a validated location; nil stays nil.
func locationOf(l *qualityv1.LatLng) *postgres.Location {
	if l == nil {
		return nil
	}
	return &postgres.Location{Lat: l.GetLat(), Lng: l.GetLng()}
}

func sensorPB(s readings.Spec, unit string) *qualityv1.Sensor {
	var kind qualityv1.SensorKind
	for k, v := range kinds {
		if v == s.Kind {
			kind = k
		}
	}
	return &qualityv1.Sensor{SensorId: s.ID, MachineId: s.Machine, Kind: kind, Unit: unit, MinValue: s.Min, MaxValue: s.Max,
		ExpectedIntervalMs: s.Interval.Milliseconds()}
}
