package chaos

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
)

// readEvents reads product's events on keys (all when none) and decodes each with event.
func readEvents[M any, PM interface {
	*M
	proto.Message
}](ctx context.Context, js jetstream.JetStream, product string, keys []string, event func(string, PM) Event) ([]Event, error) {
	evs, err := readStream(ctx, js, product, keys)
	if err != nil {
		return nil, err
	}
	return decodeEach(evs, product, event)
}

// expectations are what the load's machines make each product hold exactly once.
type expectations struct {
	machines, sensors []string
	faults            []string // declared and cleared, per fault sensor
	health            []string // CRITICAL, per wear machine
	incidents         []string // one job per wear machine and per fault sensor
}

func expect(machines []Machine) expectations {
	var e expectations
	for _, mc := range machines {
		e.machines = append(e.machines, mc.ID)
		e.sensors = append(e.sensors, mc.Sensors()...)
		if mc.FaultAt > 0 {
			c := mc.Sensors()[2]
			e.faults = append(e.faults, faultInput(c, false, qualityv1.FaultType_FAULT_TYPE_OUT_OF_RANGE),
				faultInput(c, true, qualityv1.FaultType_FAULT_TYPE_OUT_OF_RANGE))
			e.incidents = append(e.incidents, "replace "+c)
		}
		if mc.Wear {
			e.health = append(e.health, healthInput(mc.ID, qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL))
			e.incidents = append(e.incidents, "maintain "+mc.ID)
		}
	}
	return e
}

// countAll reads back every product the load reached and counts it, then scheduling's store.
func countAll(ctx context.Context, js jetstream.JetStream, m *Mesh, machines []Machine, load loadResult, withScheduling bool) ([]Count, int, error) {
	e := expect(machines)
	// redeliveredTo sums the deliveries repeated to the consumers of streams: those that
	// derive a product (quality's ingest bridge for raw readings, its pipeline for clean
	// readings, scheduling's consumers of faults and health for jobs); -1 when not measured.
	redeliveredTo := func(streams ...string) int {
		total := 0
		for _, s := range streams {
			n, err := redelivered(ctx, js, s)
			if err != nil {
				return -1
			}
			total += n
		}
		return total
	}
	rawEvs, err := readEvents(ctx, js, "quality.raw-readings.v1", e.machines, rawEvent)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]Event, len(rawEvs))
	for _, ev := range rawEvs {
		byID[ev.ID] = ev
	}
	cleanEvs, err := readEvents(ctx, js, "quality.clean-readings.v1", e.sensors, cleanEvent(byID))
	if err != nil {
		return nil, 0, err
	}
	faultEvs, err := readEvents(ctx, js, "quality.sensor-faults.v1", e.sensors, faultEvent)
	if err != nil {
		return nil, 0, err
	}
	healthEvs, err := readEvents(ctx, js, "quality.machine-health.v1", e.machines, healthEvent)
	if err != nil {
		return nil, 0, err
	}
	raw := CountEvents("quality.raw-readings.v1", load.Accepted, rawEvs)
	raw.Redelivered = redeliveredTo("QUALITY_INGEST")
	clean := CountEvents("quality.clean-readings.v1", load.Accepted, cleanEvs)
	clean.Redelivered = redeliveredTo("QUALITY_RAW_READINGS_V1")
	counts := []Count{raw, clean, CountEvents("quality.sensor-faults.v1", e.faults, faultEvs),
		CountEvents("quality.machine-health.v1", e.health, healthEvs)}
	if !withScheduling {
		return counts, -1, nil
	}

	password, err := m.PostgresPassword()
	if err != nil {
		return nil, 0, err
	}
	m.Endpoints.PostgresPassword = password
	jobs, doubles, err := schedulingStore(ctx, m.Endpoints.PostgresURL("scheduling"))
	if err != nil {
		return nil, 0, err
	}
	var opened []string
	var jobRows []Event
	for _, j := range jobs {
		opened = append(opened, "opened "+j.id)
		ev := Event{ID: j.id, Key: j.machine}
		switch j.kind {
		case 1:
			ev.Input = "maintain " + j.machine
		case 2:
			ev.Input = "replace " + j.sensor
		}
		jobRows = append(jobRows, ev)
	}
	changeEvs, err := readEvents(ctx, js, "scheduling.service-jobs.v1", nil, jobEvent)
	if err != nil {
		return nil, 0, err
	}
	changes := CountEvents("scheduling.service-jobs.v1", opened, changeEvs)
	changes.Redelivered = redeliveredTo("QUALITY_SENSOR_FAULTS_V1", "QUALITY_MACHINE_HEALTH_V1")
	counts = append(counts, changes, CountEvents("scheduling jobs per incident (store)", e.incidents, jobRows))
	return counts, doubles, nil
}
