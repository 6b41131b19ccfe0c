package dispatch_test

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
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
	"meshwork.dev/domains/scheduling/quality"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// fakeLogistics answers every entry of GetTravelMatrix with eta (fakeETA until set). It
// counts matrix calls, and PlanRoute calls, which scheduling must not make.
type fakeLogistics struct {
	logisticsv1.UnimplementedLogisticsServiceServer
	calls, routes atomic.Int64
	eta           atomic.Int64
}

const fakeETA = 17 * time.Minute

func (f *fakeLogistics) GetTravelMatrix(_ context.Context, r *logisticsv1.GetTravelMatrixRequest) (*logisticsv1.GetTravelMatrixResponse, error) {
	f.calls.Add(1)
	eta := time.Duration(f.eta.Load())
	if eta == 0 {
		eta = fakeETA
	}
	out := &logisticsv1.GetTravelMatrixResponse{DepartAt: r.GetDepartAt()}
	for range len(r.GetOrigins()) * len(r.GetDestinations()) {
		out.Entries = append(out.Entries, &logisticsv1.TravelMatrixEntry{Status: logisticsv1.TravelStatus_TRAVEL_STATUS_OK, Eta: durationpb.New(eta)})
	}
	return out, nil
}

func (f *fakeLogistics) PlanRoute(context.Context, *logisticsv1.PlanRouteRequest) (*logisticsv1.PlanRouteResponse, error) {
	f.routes.Add(1)
	return nil, status.Error(codes.Unimplemented, "scheduling must not plan routes")
}

// fakeQuality knows press-1 (high criticality, located) and nothing else.
type fakeQuality struct {
	qualityv1.UnimplementedQualityServiceServer
}

func (fakeQuality) GetMachine(_ context.Context, req *qualityv1.GetMachineRequest) (*qualityv1.GetMachineResponse, error) {
	if req.GetMachineId() != "press-1" {
		return nil, status.Error(codes.NotFound, "no machine "+req.GetMachineId())
	}
	return &qualityv1.GetMachineResponse{Machine: &qualityv1.Machine{MachineId: "press-1", Site: "north",
		Criticality: qualityv1.Criticality_CRITICALITY_HIGH, Location: &qualityv1.LatLng{Lat: 52.2, Lng: 5.2}}}, nil
}

// startFakes serves the fake logistics and quality APIs on one gRPC server.
func startFakes(t *testing.T) (*fakeLogistics, *logistics.Client, *quality.Client) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f := &fakeLogistics{}
	logisticsv1.RegisterLogisticsServiceServer(srv, f)
	qualityv1.RegisterQualityServiceServer(srv, fakeQuality{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return f, logistics.New(logisticsv1.NewLogisticsServiceClient(conn)), quality.New(qualityv1.NewQualityServiceClient(conn))
}

// startServers starts embedded NATS and a Postgres with scheduling's tables.
func startServers(t *testing.T, ctx context.Context) (jetstream.JetStream, *postgres.Store) {
	t.Helper()
	js := testinfra.StartNATS(t).JetStream(t)
	store := postgres.New(testinfra.StartPostgres(t).Pool(t))
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return js, store
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

// startFlow starts embedded NATS, Postgres, the fakes and scheduling's consumers, provisions
// the upstream products, and registers engineers (id → skill) through identity's events, on
// duty all week. It returns the fake logistics, the store and a publisher of upstream events.
func startFlow(t *testing.T, ctx context.Context, engineers map[string]string) (*fakeLogistics, *postgres.Store, func(dataproduct.Product, string, proto.Message)) {
	t.Helper()
	js, store := startServers(t, ctx)
	fake, travel, machines := startFakes(t)
	log := slog.New(slog.DiscardHandler)
	d := dispatch.New(store, dispatch.Config{Travel: travel, Locator: machines, Log: log})
	// Consumers start before the upstream streams exist: they retry in the background.
	cons := dispatch.Start(ctx, js, store, d, log, 100*time.Millisecond)
	t.Cleanup(func() { _ = cons.Drain(context.Background()) })

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
	for id, skill := range engineers {
		publish(stream.Users, id, &identityv1.UserChanged{UserId: id, Kind: identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED,
			DisplayName: id, Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER}, Active: true})
		eventually(t, "engineer "+id+" from identity", func() bool { _, err := store.Engineer(ctx, id); return err == nil })
		if _, err := store.UpdateEngineer(ctx, job.Engineer{ID: id, Skills: []string{skill}, Home: job.LatLng{Lat: 52, Lng: 5}, Shifts: allDay}); err != nil {
			t.Fatal(err)
		}
	}
	return fake, store, publish
}

// TestEventsToPlannedJobs publishes real identity and quality events onto embedded NATS, as
// those domains would, and checks the jobs scheduling opens, books and records.
func TestEventsToPlannedJobs(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fake, store, publish := startFlow(t, ctx, map[string]string{"mech": "mechanical", "sens": job.SensorSkill})
	// A fault on a machine quality does not know: a replacement job that waits, unplanned,
	// and does not keep the others from being planned.
	publish(stream.SensorFaults, "ghost-1-t", &qualityv1.SensorFault{MachineId: "ghost-1", SensorId: "ghost-1-t",
		FaultType: qualityv1.FaultType_FAULT_TYPE_STUCK, Since: timestamppb.Now(), Evidence: "stuck"})
	eventually(t, "unlocated replacement job opened", func() bool {
		jobs, _, _ := store.ListJobs(ctx, job.Open, 50, "")
		return len(jobs) == 1 && jobs[0].MachineID == "ghost-1" && !jobs[0].Located
	})

	// A sensor fault: a replacement job, a recorded avoided call-out, no emergency job.
	publish(stream.SensorFaults, "press-1-vib", &qualityv1.SensorFault{MachineId: "press-1", SensorId: "press-1-vib",
		FaultType: qualityv1.FaultType_FAULT_TYPE_STUCK, Since: timestamppb.Now(), Evidence: "stuck at 4.2 for 20 readings"})
	var repl job.Record
	eventually(t, "replacement job assigned", func() bool {
		jobs, _, _ := store.ListJobs(ctx, job.Assigned, 50, "")
		for _, j := range jobs {
			if j.Kind == job.SensorReplacement && j.MachineID == "press-1" {
				repl = j
				return true
			}
		}
		return false
	})
	if repl.SensorID != "press-1-vib" || repl.EngineerID != "sens" || repl.Priority != job.Lowest ||
		repl.Location != (job.LatLng{Lat: 52.2, Lng: 5.2}) {
		t.Errorf("replacement %+v, want sensor press-1-vib, engineer sens, lowest priority, at quality's location", repl)
	}
	if ghost, _, _ := store.ListJobs(ctx, job.Open, 50, ""); len(ghost) != 1 || ghost[0].MachineID != "ghost-1" {
		t.Errorf("open jobs %+v, want only ghost-1's", ghost)
	}
	all, _, _ := store.ListJobs(ctx, 0, 50, "")
	for _, j := range all {
		if j.Kind == job.Maintenance {
			t.Errorf("a sensor fault opened a maintenance job %+v", j)
		}
	}
	sv, err := store.Savings(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(sv) != 1 || sv[0].Cause != job.SensorFault || sv[0].CalloutsAvoided != 2 {
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
	if fake.calls.Load() == 0 || fake.routes.Load() != 0 {
		t.Errorf("%d GetTravelMatrix and %d PlanRoute calls, want some and none", fake.calls.Load(), fake.routes.Load())
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

// TestTravelTimesChangeReplans publishes a logistics.cell-travel-times.v1 event after logistics
// changed its answer: the dispatcher forgets its cached travel times and rebooks a movable job
// with the new one.
func TestTravelTimesChangeReplans(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	js, store := startServers(t, ctx)
	fake, travel, machines := startFakes(t)
	log := slog.New(slog.DiscardHandler)
	// The clock stands at 01:00; the only shift starts at 04:00, so the booking is beyond the
	// frozen hour and a replan may move it.
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	d := dispatch.New(store, dispatch.Config{Travel: travel, Locator: machines, ForgetTravel: travel.Forget, Log: log,
		Now: func() time.Time { return now }})
	if _, err := store.ApplyUser(ctx, "test", "u1", postgres.UserChange{ID: "eve", DisplayName: "Eve", Engineer: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateEngineer(ctx, job.Engineer{ID: "eve", Skills: []string{"mechanical"}, Home: job.LatLng{Lat: 52, Lng: 5},
		Shifts: []job.Shift{{Weekday: now.Weekday(), Start: 4 * 60, End: 12 * 60}}}); err != nil {
		t.Fatal(err)
	}
	d.Locate(ctx, "press-1")
	created, err := store.CreateJob(ctx, job.Record{Job: job.Job{Kind: job.Maintenance, MachineID: "press-1", Priority: 3,
		Skill: "mechanical", Duration: time.Hour, Due: now.Add(24 * time.Hour)}, Cause: job.ManualCause, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Replan(ctx); err != nil || n != 1 {
		t.Fatalf("Replan = %d, %v; want the job booked", n, err)
	}
	if r, _ := store.Job(ctx, created.ID); r.Travel != fakeETA || !r.Starts.Equal(now.Add(3*time.Hour+fakeETA)) {
		t.Fatalf("booked %+v, want travel %v from the 04:00 shift start", r, fakeETA)
	}
	if n := fake.calls.Load(); n != 1 {
		t.Errorf("%d GetTravelMatrix calls for one plan, want 1", n)
	}

	cons := dispatch.Start(ctx, js, store, d, log, 100*time.Millisecond)
	defer func() { _ = cons.Drain(context.Background()) }()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go d.Run(runCtx, time.Hour, 10*time.Millisecond)
	for _, p := range stream.Upstreams {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := dataproduct.NewPublisher(js, stream.TravelTimes)
	if err != nil {
		t.Fatal(err)
	}
	const slower = 41 * time.Minute
	fake.eta.Store(int64(slower))
	// The consumer may subscribe after the first publication: publish until the plan moves.
	eventually(t, "job rebooked with the changed travel time", func() bool {
		if _, err := pub.Publish(ctx, "891f1d4a2b3ffff", &logisticsv1.CellTravelTimes{}); err != nil {
			t.Fatal(err)
		}
		r, err := store.Job(ctx, created.ID)
		return err == nil && r.Travel == slower && r.Starts.Equal(now.Add(3*time.Hour+slower))
	})
}
