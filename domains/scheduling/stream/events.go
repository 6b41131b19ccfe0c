package stream

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/domains/scheduling/job"
)

// JobProto converts a job record to its contract form.
func JobProto(r job.Record) *schedulingv1.ServiceJob {
	p := &schedulingv1.ServiceJob{
		Id: r.ID, Kind: schedulingv1.JobKind(r.Kind), State: schedulingv1.JobState(r.State),
		MachineId: r.MachineID, SensorId: r.SensorID, Priority: int32(r.Priority),
		RequiredSkill: r.Skill, DurationMinutes: int32(r.Duration / time.Minute),
		DueAt: ts(r.Due), EngineerId: r.EngineerID, StartsAt: ts(r.Starts), EndsAt: ts(r.Ends),
		TravelSeconds: int32(r.Travel / time.Second), Cause: schedulingv1.Cause(r.Cause),
		Reason: r.Reason, ReportFileId: r.ReportFileID, CreatedAt: ts(r.Created),
	}
	return p
}

// JobChanged is the scheduling.service-jobs.v1 payload for a change of r from prev.
func JobChanged(r job.Record, prev job.State, cause job.Cause, at time.Time) *schedulingv1.ServiceJobChanged {
	return &schedulingv1.ServiceJobChanged{
		Job: JobProto(r), PreviousState: schedulingv1.JobState(prev),
		Cause: schedulingv1.Cause(cause), OccurredAt: timestamppb.New(at),
	}
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
