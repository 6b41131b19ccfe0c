package stream_test

import (
	"testing"
	"time"

	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/stream"
)

// TestJobProtoMapsEveryField checks the core's enums line up with the contract's and the
// conversion carries the plan.
func TestJobProtoMapsEveryField(t *testing.T) {
	t.Parallel()
	pairs := map[string][2]int32{
		"open":        {int32(job.Open), int32(schedulingv1.JobState_JOB_STATE_OPEN)},
		"cancelled":   {int32(job.Cancelled), int32(schedulingv1.JobState_JOB_STATE_CANCELLED)},
		"replacement": {int32(job.SensorReplacement), int32(schedulingv1.JobKind_JOB_KIND_SENSOR_REPLACEMENT)},
		"manual kind": {int32(job.Manual), int32(schedulingv1.JobKind_JOB_KIND_MANUAL)},
		"critical":    {int32(job.HealthCritical), int32(schedulingv1.Cause_CAUSE_HEALTH_CRITICAL)},
		"fault":       {int32(job.SensorFault), int32(schedulingv1.Cause_CAUSE_SENSOR_FAULT)},
		"manual":      {int32(job.ManualCause), int32(schedulingv1.Cause_CAUSE_MANUAL)},
	}
	for name, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("%s: core %d, contract %d", name, p[0], p[1])
		}
	}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	r := job.Record{Job: job.Job{ID: "j", Kind: job.Maintenance, Priority: 1, Duration: 90 * time.Minute}, State: job.Assigned,
		EngineerID: "e", Starts: at, Ends: at.Add(90 * time.Minute), Travel: 17 * time.Minute}
	ev := stream.JobChanged(r, job.Open, job.HealthCritical, at)
	if p := ev.GetJob(); p.GetDurationMinutes() != 90 || p.GetTravelSeconds() != 1020 || p.GetEngineerId() != "e" ||
		!p.GetStartsAt().AsTime().Equal(at) || ev.GetPreviousState() != schedulingv1.JobState_JOB_STATE_OPEN || p.GetDueAt() != nil {
		t.Errorf("event %v", ev)
	}
}
