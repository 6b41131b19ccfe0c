package chaos

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
)

// countAll reads back every product the load reached and counts it, then scheduling's store.
func countAll(ctx context.Context, js jetstream.JetStream, m *Mesh, machines []Machine, load loadResult, withScheduling bool) ([]Count, int, error) {
	var machineIDs, sensors []string
	var faultsWanted, healthWanted, incidents []string
	for _, mc := range machines {
		machineIDs = append(machineIDs, mc.ID)
		sensors = append(sensors, mc.Sensors()...)
		if mc.FaultAt > 0 {
			c := mc.Sensors()[2]
			faultsWanted = append(faultsWanted, faultInput(c, false, qualityv1.FaultType_FAULT_TYPE_OUT_OF_RANGE),
				faultInput(c, true, qualityv1.FaultType_FAULT_TYPE_OUT_OF_RANGE))
			incidents = append(incidents, "replace "+c)
		}
		if mc.Wear {
			healthWanted = append(healthWanted, healthInput(mc.ID, qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL))
			incidents = append(incidents, "maintain "+mc.ID)
		}
	}
	var counts []Count
	// redelivered counts the deliveries repeated to the consumers that derive a product:
	// quality's ingest bridge for raw readings, its pipeline for clean readings.
	red := func(c Count, stream string) Count {
		if n, err := redelivered(ctx, js, stream); err == nil {
			c.Redelivered = n
		}
		return c
	}

	raw, err := readStream(ctx, js, "quality.raw-readings.v1", machineIDs)
	if err != nil {
		return nil, 0, err
	}
	rawEvs, byID, err := rawEvents(raw)
	if err != nil {
		return nil, 0, err
	}
	counts = append(counts, red(CountEvents("quality.raw-readings.v1", load.Accepted, rawEvs), "QUALITY_INGEST"))

	clean, err := readStream(ctx, js, "quality.clean-readings.v1", sensors)
	if err != nil {
		return nil, 0, err
	}
	cleanEvs, err := cleanEvents(clean, byID)
	if err != nil {
		return nil, 0, err
	}
	counts = append(counts, red(CountEvents("quality.clean-readings.v1", load.Accepted, cleanEvs), "QUALITY_RAW_READINGS_V1"))

	faults, err := readStream(ctx, js, "quality.sensor-faults.v1", sensors)
	if err != nil {
		return nil, 0, err
	}
	faultEvs, err := faultEvents(faults)
	if err != nil {
		return nil, 0, err
	}
	counts = append(counts, CountEvents("quality.sensor-faults.v1", faultsWanted, faultEvs))

	health, err := readStream(ctx, js, "quality.machine-health.v1", machineIDs)
	if err != nil {
		return nil, 0, err
	}
	healthEvs, err := healthEvents(health)
	if err != nil {
		return nil, 0, err
	}
	counts = append(counts, CountEvents("quality.machine-health.v1", healthWanted, healthEvs))

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
	var jobEvs []Event
	for _, j := range jobs {
		opened = append(opened, "opened "+j.id)
		ev := Event{ID: j.id, Key: j.machine}
		switch j.kind {
		case 1:
			ev.Input = "maintain " + j.machine
		case 2:
			ev.Input = "replace " + j.sensor
		}
		jobEvs = append(jobEvs, ev)
	}
	changes, err := readStream(ctx, js, "scheduling.service-jobs.v1", nil)
	if err != nil {
		return nil, 0, err
	}
	changeEvs, err := jobEvents(changes)
	if err != nil {
		return nil, 0, err
	}
	jobsCount := CountEvents("scheduling.service-jobs.v1", opened, changeEvs)
	// Scheduling's consumers of faults and health are what produce its jobs.
	if a, err := redelivered(ctx, js, "QUALITY_SENSOR_FAULTS_V1"); err == nil {
		if b, err := redelivered(ctx, js, "QUALITY_MACHINE_HEALTH_V1"); err == nil {
			jobsCount.Redelivered = a + b
		}
	}
	counts = append(counts, jobsCount)
	incidentCount := CountEvents("scheduling jobs per incident (store)", incidents, jobEvs)
	incidentCount.Stored = len(jobs)
	counts = append(counts, incidentCount)
	return counts, doubles, nil
}
