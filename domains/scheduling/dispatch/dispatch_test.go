package dispatch_test

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/scheduling/dispatch"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/logistics"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// fakeLogistics answers every PlanRoute with 17 minutes.
type fakeLogistics struct {
	logisticsv1.UnimplementedLogisticsServiceServer
	calls atomic.Int64
}

const fakeETA = 17 * time.Minute

func (f *fakeLogistics) PlanRoute(context.Context, *logisticsv1.PlanRouteRequest) (*logisticsv1.PlanRouteResponse, error) {
	f.calls.Add(1)
	return &logisticsv1.PlanRouteResponse{Eta: durationpb.New(fakeETA)}, nil
}

func startLogistics(t *testing.T) (*fakeLogistics, *logistics.Client) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f := &fakeLogistics{}
	logisticsv1.RegisterLogisticsServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return f, logistics.New(logisticsv1.NewLogisticsServiceClient(conn))
}

// eventually polls cond until it holds, failing after a generous limit (not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// TestEventsToPlannedJobs publishes real identity and quality events onto embedded NATS, as
// those domains would, and checks the jobs scheduling opens, books and records.
func TestEventsToPlannedJobs(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := testinfra.StartPostgres(t).Pool(t)
	js := testinfra.StartNATS(t).JetStream(t)
	store := postgres.New(pool)
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fake, travel := startLogistics(t)
	log := slog.New(slog.DiscardHandler)
	d := dispatch.New(store, travel, log, nil)
	// Consumers start before the upstream streams exist: they retry in the background.
	cons := dispatch.Start(ctx, js, store, d, log, 100*time.Millisecond)
	defer func() { _ = cons.Drain(context.Background()) }()

	pubs := map[string]*dataproduct.Publisher{}
	for _, p := range stream.Upstreams {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			t.Fatal(err)
		}
		pub, err := dataproduct.NewPublisher(js, p)
		if err != nil {
			t.Fatal(err)
		}
		pubs[p.ID()] = pub
	}
	publish := func(p dataproduct.Product, key string, m proto.Message) {
		t.Helper()
		if _, err := pubs[p.ID()].Publish(ctx, key, m); err != nil {
			t.Fatal(err)
		}
	}
	allDay := []job.Shift{}
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		allDay = append(allDay, job.Shift{Weekday: wd, Start: 0, End: 24 * 60})
	}
	for id, skill := range map[string]string{"mech": "mechanical", "sens": job.SensorSkill} {
		publish(stream.Users, id, &identityv1.UserChanged{UserId: id, Kind: identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED,
			DisplayName: id, Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER}, Active: true})
		eventually(t, "engineer "+id+" from identity", func() bool { _, err := store.Engineer(ctx, id); return err == nil })
		if _, err := store.UpdateEngineer(ctx, job.Engineer{ID: id, Skills: []string{skill}, Home: job.LatLng{Lat: 52, Lng: 5}, Shifts: allDay}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.UpsertMachine(ctx, postgres.Machine{ID: "press-1", Location: job.LatLng{Lat: 52.2, Lng: 5.2}, Criticality: job.High}); err != nil {
		t.Fatal(err)
	}

	// A sensor fault: a replacement job, a recorded avoided call-out, no emergency job.
	publish(stream.SensorFaults, "press-1-vib", &qualityv1.SensorFault{MachineId: "press-1", SensorId: "press-1-vib",
		FaultType: qualityv1.FaultType_FAULT_TYPE_STUCK, Since: timestamppb.Now(), Evidence: "stuck at 4.2 for 20 readings"})
	var repl job.Record
	eventually(t, "replacement job assigned", func() bool {
		jobs, _, _ := store.ListJobs(ctx, job.Assigned, 50, "")
		for _, j := range jobs {
			if j.Kind == job.SensorReplacement {
				repl = j
				return true
			}
		}
		return false
	})
	if repl.SensorID != "press-1-vib" || repl.EngineerID != "sens" || repl.Priority != job.Lowest {
		t.Errorf("replacement %+v, want sensor press-1-vib, engineer sens, lowest priority", repl)
	}
	all, _, _ := store.ListJobs(ctx, 0, 50, "")
	for _, j := range all {
		if j.Kind == job.Maintenance {
			t.Errorf("a sensor fault opened a maintenance job %+v", j)
		}
	}
	sv, err := store.Savings(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(sv) != 1 || sv[0].Cause != job.SensorFault || sv[0].CalloutsAvoided != 1 {
		t.Errorf("savings %+v (%v), want one avoided call-out by sensor fault", sv, err)
	}

	// A real failure: CRITICAL, a maintenance job for the skilled engineer with logistics' travel time.
	publish(stream.MachineHealth, "press-1", &qualityv1.MachineHealth{MachineId: "press-1", Status: qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL,
		Reason: "vibration +45% and temperature +12% over baseline", AssessedAt: timestamppb.Now()})
	var maint job.Record
	eventually(t, "maintenance job assigned", func() bool {
		jobs, _, _ := store.ListJobs(ctx, job.Assigned, 50, "")
		for _, j := range jobs {
			if j.Kind == job.Maintenance {
				maint = j
				return true
			}
		}
		return false
	})
	if maint.EngineerID != "mech" || maint.Skill != "mechanical" || maint.Priority != 1 || maint.Travel != fakeETA {
		t.Errorf("maintenance %+v, want engineer mech, skill mechanical, priority 1, travel %v", maint, fakeETA)
	}
	if fake.calls.Load() == 0 {
		t.Error("logistics was never asked")
	}
	// The same incident again opens no second job; recovery closes it.
	publish(stream.MachineHealth, "press-1", &qualityv1.MachineHealth{MachineId: "press-1", Status: qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL, Reason: "vibration"})
	publish(stream.MachineHealth, "press-1", &qualityv1.MachineHealth{MachineId: "press-1", Status: qualityv1.HealthStatus_HEALTH_STATUS_OK})
	eventually(t, "maintenance job closed on recovery", func() bool {
		r, err := store.Job(ctx, maint.ID)
		return err == nil && r.State == job.Cancelled
	})
	all, _, _ = store.ListJobs(ctx, 0, 50, "")
	n := 0
	for _, j := range all {
		if j.Kind == job.Maintenance {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d maintenance jobs, want one per incident", n)
	}

	// A deactivated engineer leaves planning.
	publish(stream.Users, "mech", &identityv1.UserChanged{UserId: "mech", Kind: identityv1.UserChangeKind_USER_CHANGE_KIND_DEACTIVATED})
	eventually(t, "engineer deactivated", func() bool { e, err := store.Engineer(ctx, "mech"); return err == nil && !e.Active })
}
