package dispatch_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/domains/scheduling/stream"
)

// incidentJobs lists press-1's incident jobs (inspection or maintenance) in any state.
func incidentJobs(t *testing.T, ctx context.Context, store *postgres.Store) []job.Record {
	t.Helper()
	all, _, err := store.ListJobs(ctx, 0, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []job.Record
	for _, j := range all {
		if j.MachineID == "press-1" && (j.Kind == job.Inspection || j.Kind == job.Maintenance) {
			out = append(out, j)
		}
	}
	return out
}

// TestUnconfirmedHealthOpensAnInspection: quality's ANOMALOUS_UNCONFIRMED (a sensor declared
// faulty whose data still shows a change) is neither a call-out nor nothing: one inspection
// job — short, ranked between WARN and CRITICAL, booked for the skill the reason names. When
// clean data confirms the failure (CRITICAL), the same job becomes urgent maintenance; recovery
// closes it.
func TestUnconfirmedHealthOpensAnInspection(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, store, publish := startFlow(t, ctx, map[string]string{"therm": "thermal", "mech": "mechanical", "sens": job.SensorSkill})

	since := time.Now().Add(-10 * time.Minute)
	publish(stream.SensorFaults, "press-1-t1", &qualityv1.SensorFault{MachineId: "press-1", SensorId: "press-1-t1",
		FaultType: qualityv1.FaultType_FAULT_TYPE_STUCK, Since: timestamppb.New(since), Evidence: "8 of the last 20 readings flagged stuck"})
	unconfirmed := &qualityv1.MachineHealth{MachineId: "press-1", Status: qualityv1.HealthStatus_HEALTH_STATUS_ANOMALOUS_UNCONFIRMED,
		Reason:            "anomalous, unconfirmed: temperature press-1-t1 declared faulty (stuck) but its data dropped -6.1σ",
		EvidenceSensorIds: []string{"press-1-t1"}, AssessedAt: timestamppb.Now()}
	publish(stream.MachineHealth, "press-1", unconfirmed)
	var insp job.Record
	eventually(t, "inspection assigned", func() bool {
		js := incidentJobs(t, ctx, store)
		if len(js) == 1 && js[0].State == job.Assigned {
			insp = js[0]
			return true
		}
		return false
	})
	// press-1 is of high criticality: Priority(High, Unconfirmed) = 2, between WARN's 3 and CRITICAL's 1.
	if insp.Kind != job.Inspection || insp.Duration != job.InspectionDuration || insp.Priority != 2 ||
		insp.Skill != "thermal" || insp.EngineerID != "therm" || insp.Cause != job.HealthUnconfirmed || insp.Reason != unconfirmed.GetReason() {
		t.Fatalf("job %+v, want an inspection of %v at priority 2 for thermal (therm), cause unconfirmed, quality's reason",
			insp, job.InspectionDuration)
	}
	if p := job.Priority(job.High, job.Warn); insp.Priority >= p || insp.Priority <= job.Priority(job.High, job.Critical) {
		t.Errorf("inspection priority %d, want between WARN's %d and CRITICAL's", insp.Priority, p)
	}
	// The same status again is the same incident.
	unconfirmed.AssessedAt = timestamppb.Now()
	publish(stream.MachineHealth, "press-1", unconfirmed)

	// Clean data confirms it: the inspection becomes maintenance, for the part now named.
	publish(stream.MachineHealth, "press-1", &qualityv1.MachineHealth{MachineId: "press-1", Status: qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL,
		Reason: "vibration and temperature changing together: temperature press-1-t2 -5.0σ, vibration press-1-v1 +4.4σ", AssessedAt: timestamppb.Now()})
	var maint job.Record
	eventually(t, "inspection escalated to maintenance and booked again", func() bool {
		js := incidentJobs(t, ctx, store)
		if len(js) == 1 && js[0].Kind == job.Maintenance && js[0].State == job.Assigned {
			maint = js[0]
			return true
		}
		return false
	})
	if maint.ID != insp.ID || maint.Duration != job.MaintenanceDuration || maint.Priority != 1 || maint.Skill != "mechanical" ||
		maint.EngineerID != "mech" || maint.Ends.Sub(maint.Starts) != job.MaintenanceDuration {
		t.Errorf("escalated %+v, want job %s as maintenance of %v at priority 1 for mechanical (mech)", maint, insp.ID, job.MaintenanceDuration)
	}
	publish(stream.MachineHealth, "press-1", &qualityv1.MachineHealth{MachineId: "press-1", Status: qualityv1.HealthStatus_HEALTH_STATUS_OK})
	eventually(t, "incident closed on recovery", func() bool {
		r, err := store.Job(ctx, insp.ID)
		return err == nil && r.State == job.Cancelled
	})
	if js := incidentJobs(t, ctx, store); len(js) != 1 {
		t.Errorf("%d incident jobs, want one for the whole incident: %+v", len(js), js)
	}
}
