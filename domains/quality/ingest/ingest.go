// Package ingest turns what devices and gateways send into quality.raw-readings.v1 readings,
// or refuses them with a reason. It has no I/O: the service calls it from its NATS, MQTT and
// gRPC entry points.
//
// Subjects: ingest.quality.<machine>.<sensor> (NATS) and factory.<machine>.<sensor> (NATS maps
// the MQTT topic factory/<machine>/<sensor> to it). Payloads, told apart by their first byte:
//
//   - JSON (first non-blank byte '{'): {"value": 41.2, "time": "2026-01-05T10:00:00Z", "seq": 7}
//     — value required; time RFC 3339 or Unix milliseconds, optional (arrival time); seq optional.
//   - protobuf: a binary mesh.quality.v1.RawReading; its machine_id and sensor_id, when set,
//     must match the subject's.
//
// The service dead-letters a refused reading (package pipeline) with the original payload and
// a dlq-reason header: it is never dropped silently.
package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
)

// Subject prefixes the service listens on.
const (
	NATSPrefix = "ingest.quality"
	MQTTPrefix = "factory"
)

// MaxSkew is how far in the future a sample time may be.
const MaxSkew = time.Hour

// Registry says whether a sensor is registered on a machine.
type Registry interface {
	Known(machine, sensor string) bool
}

// Refusal is why a reading was not accepted.
type Refusal struct {
	// Reason is a short sentence for the dead-letter header or the gRPC response.
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, a ...any) *Refusal { return &Refusal{Reason: fmt.Sprintf(format, a...)} }

// Route splits a subject into machine and sensor and says which channel it came by.
func Route(subject string) (machine, sensor string, ch qualityv1.IngestChannel, err error) {
	parts := strings.Split(subject, ".")
	switch {
	case len(parts) == 4 && parts[0]+"."+parts[1] == NATSPrefix:
		ch = qualityv1.IngestChannel_INGEST_CHANNEL_NATS
		machine, sensor = parts[2], parts[3]
	case len(parts) == 3 && parts[0] == MQTTPrefix:
		ch = qualityv1.IngestChannel_INGEST_CHANNEL_MQTT
		machine, sensor = parts[1], parts[2]
	default:
		return "", "", 0, refuse("subject %q is not %s.<machine>.<sensor> or %s.<machine>.<sensor>", subject, NATSPrefix, MQTTPrefix)
	}
	if machine == "" || sensor == "" {
		return "", "", 0, refuse("subject %q has an empty machine or sensor", subject)
	}
	return machine, sensor, ch, nil
}

type jsonReading struct {
	Value *float64        `json:"value"`
	Time  json.RawMessage `json:"time"`
	Seq   uint64          `json:"seq"`
}

// Decode parses a payload for machine and sensor, received at now, into a raw reading.
func Decode(machine, sensor string, ch qualityv1.IngestChannel, payload []byte, now time.Time) (*qualityv1.RawReading, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	r := &qualityv1.RawReading{MachineId: machine, SensorId: sensor, Channel: ch}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var j jsonReading
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return nil, refuse("malformed JSON: %v", err)
		}
		if j.Value == nil {
			return nil, refuse("JSON reading has no value")
		}
		t, err := jsonTime(j.Time, now)
		if err != nil {
			return nil, err
		}
		r.Value, r.DeviceSeq, r.SampledAt = *j.Value, j.Seq, timestamppb.New(t)
	} else {
		var p qualityv1.RawReading
		if len(payload) == 0 {
			return nil, refuse("empty payload")
		}
		if err := proto.Unmarshal(payload, &p); err != nil {
			return nil, refuse("payload is neither JSON nor a protobuf RawReading: %v", err)
		}
		if (p.MachineId != "" && p.MachineId != machine) || (p.SensorId != "" && p.SensorId != sensor) {
			return nil, refuse("payload names %s/%s but the subject %s/%s", p.MachineId, p.SensorId, machine, sensor)
		}
		r.Value, r.DeviceSeq, r.SampledAt = p.Value, p.DeviceSeq, p.SampledAt
		if r.SampledAt == nil {
			r.SampledAt = timestamppb.New(now)
		}
	}
	return r, nil
}

func jsonTime(raw json.RawMessage, now time.Time) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return now, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, refuse("time %q is not RFC 3339", s)
		}
		return t, nil
	}
	var ms int64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return time.Time{}, refuse("time %s is neither RFC 3339 nor Unix milliseconds", raw)
	}
	return time.UnixMilli(ms), nil
}

// Validate checks a decoded reading against the registry and common sense.
func Validate(r *qualityv1.RawReading, reg Registry, now time.Time) error {
	switch {
	case !reg.Known(r.GetMachineId(), r.GetSensorId()):
		return refuse("unknown sensor %s on machine %s", r.GetSensorId(), r.GetMachineId())
	case math.IsNaN(r.GetValue()) || math.IsInf(r.GetValue(), 0):
		return refuse("value is not finite")
	case !r.GetSampledAt().IsValid() || r.GetSampledAt().AsTime().Unix() <= 0:
		return refuse("sample time is missing or invalid")
	case r.GetSampledAt().AsTime().After(now.Add(MaxSkew)):
		return refuse("sample time %s is more than %s in the future", r.GetSampledAt().AsTime().Format(time.RFC3339), MaxSkew)
	}
	return nil
}

// Accept routes, decodes and validates one message: the reading, or a *Refusal.
func Accept(subject string, payload []byte, reg Registry, now time.Time) (*qualityv1.RawReading, error) {
	m, s, ch, err := Route(subject)
	if err != nil {
		return nil, err
	}
	r, err := Decode(m, s, ch, payload, now)
	if err != nil {
		return nil, err
	}
	if err := Validate(r, reg, now); err != nil {
		return nil, err
	}
	return r, nil
}
