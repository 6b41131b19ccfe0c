package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/dataproduct"
)

func (u *underTest) publish(t *testing.T, p dataproduct.Product, key string, m proto.Message) {
	t.Helper()
	if _, err := dataproduct.Provision(u.ctx, u.js, p); err != nil {
		t.Fatal(err)
	}
	pub, err := dataproduct.NewPublisher(u.js, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(u.ctx, key, m); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// TestJobsOverTheAPI: an engineer from identity.users.v1, skills over the API, a manual job
// planned with logistics' travel time, the engineer's schedule, completion by the engineer,
// a sensor fault's avoided call-out in the savings, and the lifecycle on scheduling.service-jobs.v1.
func TestJobsOverTheAPI(t *testing.T) {
	t.Parallel()
	u := start(t)
	disp := u.as(t, "dispatcher")
	u.engineer(t, disp, "engineer-1", "Eve", &schedulingv1.LatLng{Lat: 52, Lng: 5}, "mechanical", "sensors")
	created, err := u.client.CreateJob(disp, &schedulingv1.CreateJobRequest{MachineId: "press-1", Priority: 2, RequiredSkill: "mechanical",
		DurationMinutes: 60, Reason: "annual service"})
	if err != nil {
		t.Fatal(err)
	}
	j := created.GetJob()
	if j.GetState() != schedulingv1.JobState_JOB_STATE_ASSIGNED || j.GetEngineerId() != "engineer-1" || j.GetTravelSeconds() != int32(fakeETA/time.Second) {
		t.Fatalf("created %v, want assigned to engineer-1 with %v travel", j, fakeETA)
	}
	eng := u.as(t, "engineer")
	sched, err := u.client.GetEngineerSchedule(eng, &schedulingv1.GetEngineerScheduleRequest{EngineerId: "engineer-1", Day: j.GetStartsAt()})
	if err != nil || len(sched.GetStops()) != 1 || sched.GetStops()[0].GetJob().GetId() != j.GetId() || sched.GetTotalTravel().AsDuration() != fakeETA {
		t.Fatalf("schedule %v (%v), want the job with %v travel", sched, err, fakeETA)
	}
	if loc := sched.GetStops()[0].GetLocation(); loc.GetLat() != 52.2 {
		t.Errorf("stop at %v, want the machine location from MACHINE_LOCATIONS", loc)
	}
	if _, err := u.client.CompleteJob(eng, &schedulingv1.CompleteJobRequest{Id: j.GetId(), ReportFileId: "no-such-file"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("complete with a missing report file: %v, want InvalidArgument", err)
	}
	done, err := u.client.CompleteJob(eng, &schedulingv1.CompleteJobRequest{Id: j.GetId(), ReportFileId: "file-123"})
	if err != nil || done.GetJob().GetState() != schedulingv1.JobState_JOB_STATE_COMPLETED || done.GetJob().GetReportFileId() != "file-123" {
		t.Fatalf("complete: %v (%v)", done, err)
	}

	u.publish(t, stream.SensorFaults, "press-1-temp", &qualityv1.SensorFault{MachineId: "press-1", SensorId: "press-1-temp",
		FaultType: qualityv1.FaultType_FAULT_TYPE_DRIFT, Since: timestamppb.Now(), Evidence: "drifting from peers"})
	analyst := u.as(t, "analyst")
	eventually(t, "avoided call-out in the savings", func() bool {
		sv, err := u.client.GetCalloutSavings(analyst, &schedulingv1.GetCalloutSavingsRequest{From: timestamppb.New(time.Now().Add(-time.Hour))})
		return err == nil && sv.GetCalloutsAvoided() == 1 && len(sv.GetByCause()) == 1 &&
			sv.GetByCause()[0].GetCause() == schedulingv1.Cause_CAUSE_SENSOR_FAULT && sv.GetHoursSaved() > 0 &&
			sv.GetFailuresDeclaredFaults() == 0
	})
	// Clean data then shows the machine failing: that fault was a failure declared a fault,
	// no call-out was avoided, and the savings say so.
	u.publish(t, stream.MachineHealth, "press-1", &qualityv1.MachineHealth{MachineId: "press-1", Status: qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL,
		Reason: "vibration and temperature changing together: temperature press-1-temp -5.1σ, vibration press-1-vib +4.6σ", AssessedAt: timestamppb.Now()})
	eventually(t, "the fault counted as a failure declared a fault", func() bool {
		sv, err := u.client.GetCalloutSavings(analyst, &schedulingv1.GetCalloutSavingsRequest{From: timestamppb.New(time.Now().Add(-time.Hour))})
		return err == nil && sv.GetCalloutsAvoided() == 0 && sv.GetHoursSaved() == 0 && sv.GetFailuresDeclaredFaults() == 1
	})

	// The lifecycle reaches scheduling.service-jobs.v1 through the outbox.
	cons, err := u.js.OrderedConsumer(u.ctx, stream.ServiceJobs.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	states := map[schedulingv1.JobState]bool{}
	for !states[schedulingv1.JobState_JOB_STATE_COMPLETED] {
		msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("service-jobs events: %v (saw %v)", err, states)
		}
		var ev schedulingv1.ServiceJobChanged
		if err := proto.Unmarshal(msg.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.GetJob().GetId() == j.GetId() {
			states[ev.GetJob().GetState()] = true
		}
	}
	if !states[schedulingv1.JobState_JOB_STATE_OPEN] || !states[schedulingv1.JobState_JOB_STATE_ASSIGNED] {
		t.Errorf("lifecycle events %v, want open, assigned, completed", states)
	}
}

// TestBadInput: malformed requests get InvalidArgument naming the offending field.
func TestBadInput(t *testing.T) {
	t.Parallel()
	u := start(t)
	ctx := u.as(t, "dispatcher")
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"job without machine", func() error {
			_, err := u.client.CreateJob(ctx, &schedulingv1.CreateJobRequest{Priority: 1, RequiredSkill: "s", DurationMinutes: 10})
			return err
		}, "machine_id"},
		{"priority out of range", func() error {
			_, err := u.client.CreateJob(ctx, &schedulingv1.CreateJobRequest{MachineId: "m", Priority: 9, RequiredSkill: "s", DurationMinutes: 10})
			return err
		}, "priority"},
		{"zero duration", func() error {
			_, err := u.client.CreateJob(ctx, &schedulingv1.CreateJobRequest{MachineId: "m", Priority: 1, RequiredSkill: "s"})
			return err
		}, "duration_minutes"},
		{"bad shift", func() error {
			_, err := u.client.UpdateEngineer(ctx, &schedulingv1.UpdateEngineerRequest{Engineer: &schedulingv1.Engineer{Id: "e",
				Shifts: []*schedulingv1.Shift{{Weekday: 1, StartMinute: 600, EndMinute: 500}}}})
			return err
		}, "engineer.shifts[0]"},
		{"home base off the globe", func() error {
			_, err := u.client.UpdateEngineer(ctx, &schedulingv1.UpdateEngineerRequest{Engineer: &schedulingv1.Engineer{Id: "e", HomeBase: &schedulingv1.LatLng{Lat: 91}}})
			return err
		}, "engineer.home_base"},
		{"job id not a uuid", func() error {
			_, err := u.client.CancelJob(ctx, &schedulingv1.CancelJobRequest{Id: "nope"})
			return err
		}, "id"},
		{"page size too big", func() error {
			_, err := u.client.ListJobs(ctx, &schedulingv1.ListJobsRequest{PageSize: 10000})
			return err
		}, "page_size"},
		{"bad page token", func() error {
			_, err := u.client.ListJobs(ctx, &schedulingv1.ListJobsRequest{PageToken: "x"})
			return err
		}, "page_token"},
		{"schedule without day", func() error {
			_, err := u.client.GetEngineerSchedule(ctx, &schedulingv1.GetEngineerScheduleRequest{EngineerId: "e"})
			return err
		}, "day"},
		{"savings period backwards", func() error {
			_, err := u.client.GetCalloutSavings(ctx, &schedulingv1.GetCalloutSavingsRequest{From: timestamppb.Now(), To: timestamppb.New(time.Now().Add(-time.Hour))})
			return err
		}, "to"},
	}
	for _, c := range cases {
		err := c.call()
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", c.name, err)
			continue
		}
		found := false
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					found = found || v.GetField() == c.field
				}
			}
		}
		if !found {
			t.Errorf("%s: %v names no field %q", c.name, st.Details(), c.field)
		}
	}
	if _, err := u.client.CancelJob(ctx, &schedulingv1.CancelJobRequest{Id: "00000000-0000-0000-0000-000000000000"}); status.Code(err) != codes.NotFound {
		t.Errorf("cancel unknown job: %v, want NotFound", err)
	}
}
