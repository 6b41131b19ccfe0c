package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (context.Context, *postgres.Store) {
	t.Helper()
	pool := testinfra.StartPostgres(t).Pool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s := postgres.New(pool)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx, s
}

func addEngineer(t *testing.T, ctx context.Context, s *postgres.Store, id string, skills ...string) {
	t.Helper()
	if _, err := s.ApplyUser(ctx, "test", "user-"+id, postgres.UserChange{ID: id, DisplayName: id, Engineer: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateEngineer(ctx, job.Engineer{ID: id, Skills: skills, Shifts: []job.Shift{{Weekday: time.Monday, Start: 480, End: 1020}}}); err != nil {
		t.Fatal(err)
	}
}

func manual(t *testing.T, ctx context.Context, s *postgres.Store) job.Record {
	t.Helper()
	r, err := s.CreateJob(ctx, job.Record{Job: job.Job{Kind: job.Manual, MachineID: "m1", Priority: 3, Skill: "s",
		Duration: time.Hour, Due: t0.Add(8 * time.Hour)}, Cause: job.ManualCause})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestConcurrentBookingNeverDoubleBooks hammers one engineer with overlapping bookings of
// different jobs from many goroutines: the exclusion constraint lets through only
// non-overlapping ones, the rest get Conflict, and the table never holds an overlap.
func TestConcurrentBookingNeverDoubleBooks(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	addEngineer(t, ctx, s, "eng", "s")
	const n = 40
	jobs := make([]job.Record, n)
	for i := range jobs {
		jobs[i] = manual(t, ctx, s)
	}
	// Candidate slots every 30 minutes, each an hour long: neighbours overlap.
	slots := make([]job.Window, 16)
	for i := range slots {
		slots[i] = job.Window{Start: t0.Add(time.Duration(i) * 30 * time.Minute), End: t0.Add(time.Duration(i)*30*time.Minute + time.Hour)}
	}
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Half start at the first slot, half at the middle, to collide hard.
			from := (i % 2) * 8
			_, results[i] = s.BookFirstFree(ctx, jobs[i].ID, "eng", slots[from:], 0)
		})
	}
	wg.Wait()
	booked := 0
	for i, err := range results {
		switch {
		case err == nil:
			booked++
		case !errs.Is(err, errs.Conflict):
			t.Errorf("job %d: %v, want nil or Conflict", i, err)
		}
	}
	if booked == 0 || booked > 8 {
		t.Errorf("%d bookings in an 8-hour day of 1-hour jobs", booked)
	}
	var overlaps int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM assignments a JOIN assignments b
		ON a.engineer_id = b.engineer_id AND a.job_id < b.job_id AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)`).Scan(&overlaps); err != nil {
		t.Fatal(err)
	}
	if overlaps != 0 {
		t.Errorf("%d overlapping assignments in the table", overlaps)
	}
	var rows int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM assignments`).Scan(&rows); err != nil || rows != booked {
		t.Errorf("assignments = %d (%v), want %d", rows, err, booked)
	}
}

func TestBookErrors(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	addEngineer(t, ctx, s, "eng", "s")
	a, b := manual(t, ctx, s), manual(t, ctx, s)
	if _, err := s.Book(ctx, a.ID, "eng", t0, t0.Add(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		id, eng    string
		start, end time.Time
		kind       errs.Kind
	}{
		{"overlap", b.ID, "eng", t0.Add(30 * time.Minute), t0.Add(90 * time.Minute), errs.Conflict},
		{"unknown engineer", b.ID, "nobody", t0, t0.Add(time.Hour), errs.FailedPrecondition},
		{"unknown job", "00000000-0000-0000-0000-000000000000", "eng", t0, t0.Add(time.Hour), errs.NotFound},
		{"end before start", b.ID, "eng", t0.Add(3 * time.Hour), t0.Add(2 * time.Hour), errs.Invalid},
	}
	for _, c := range cases {
		if _, err := s.Book(ctx, c.id, c.eng, c.start, c.end, 0); !errs.Is(err, c.kind) {
			t.Errorf("%s: %v, want %v", c.name, err, c.kind)
		}
	}
	if _, err := s.Book(ctx, b.ID, "eng", t0.Add(time.Hour), t0.Add(2*time.Hour), 0); err != nil {
		t.Errorf("adjacent slot: %v", err)
	}
	if _, err := s.CompleteJob(ctx, a.ID, "file-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelJob(ctx, a.ID, job.ManualCause); !errs.Is(err, errs.FailedPrecondition) {
		t.Errorf("cancel completed: %v, want FailedPrecondition", err)
	}
	if _, err := s.Job(ctx, "not-a-uuid"); !errs.Is(err, errs.Invalid) {
		t.Errorf("bad id: %v, want Invalid", err)
	}
}

func TestHealthOpensOneJobPerIncident(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	if err := s.UpsertMachine(ctx, postgres.Machine{ID: "m1", Location: job.LatLng{Lat: 52.1, Lng: 5.1}, Criticality: job.High}); err != nil {
		t.Fatal(err)
	}
	apply := func(id string, h job.Health) (job.Record, bool) {
		t.Helper()
		r, ran, err := s.ApplyHealth(ctx, "c", id, postgres.HealthChange{MachineID: "m1", Health: h, Reason: "vibration +45%", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		return r, ran
	}
	opened, _ := apply("e1", job.Warn)
	if opened.ID == "" || opened.Priority != 3 || opened.Skill != "mechanical" || opened.Location.Lat != 52.1 {
		t.Fatalf("WARN on a high-criticality machine opened %+v", opened)
	}
	if _, ran := apply("e1", job.Warn); ran {
		t.Error("redelivered event applied twice")
	}
	apply("e2", job.Warn)
	esc, _ := apply("e3", job.Critical)
	if esc.ID != opened.ID || esc.Priority != 1 {
		t.Errorf("CRITICAL gave %s priority %d, want the same job at priority 1", esc.ID, esc.Priority)
	}
	closed, _ := apply("e4", job.OK)
	if closed.ID != opened.ID || closed.State != job.Cancelled {
		t.Errorf("OK gave %+v, want the job cancelled", closed)
	}
	open, _, err := s.ListJobs(ctx, 0, 50, "")
	if err != nil || len(open) != 1 {
		t.Errorf("jobs %d (%v), want exactly one for the incident", len(open), err)
	}
	again, _ := apply("e5", job.Critical)
	if again.ID == opened.ID || again.ID == "" {
		t.Errorf("a new incident after recovery reused job %s", again.ID)
	}
}

// TestEscalationNamingAPartChangesTheSkill: a lone uncorroborated rise names no part (general
// skill), the escalation names vibration: the job now needs a mechanic, and the engineer booked
// for the general skill is released.
func TestEscalationNamingAPartChangesTheSkill(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	addEngineer(t, ctx, s, "gus", job.GeneralSkill)
	warn, _, err := s.ApplyHealth(ctx, "c", "e1", postgres.HealthChange{MachineID: "m1", Health: job.Warn, Reason: "uncorroborated rise: t1 +4.2σ", At: t0})
	if err != nil || warn.Skill != job.GeneralSkill {
		t.Fatalf("WARN opened %+v (%v), want the general skill", warn, err)
	}
	if _, err := s.Book(ctx, warn.ID, "gus", t0.Add(time.Hour), t0.Add(3*time.Hour), 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	crit, _, err := s.ApplyHealth(ctx, "c", "e2", postgres.HealthChange{MachineID: "m1", Health: job.Critical,
		Reason: "vibration and temperature rising together: t1 +5.0σ, v1 +4.4σ", At: t0})
	if err != nil || crit.ID != warn.ID || crit.Skill != "mechanical" || crit.State != job.Open || crit.EngineerID != "" {
		t.Fatalf("CRITICAL gave %+v (%v), want the same job needing mechanical, open again", crit, err)
	}
	if stored, err := s.Job(ctx, warn.ID); err != nil || stored.Skill != "mechanical" || stored.State != job.Open || stored.EngineerID != "" {
		t.Errorf("stored %+v (%v), want mechanical, open, no assignment", stored, err)
	}
	// An escalation whose reason names no part keeps the skill.
	again, _, err := s.ApplyHealth(ctx, "c", "e3", postgres.HealthChange{MachineID: "m1", Health: job.Warn, Reason: "uncorroborated rise: v1 +4.1σ", At: t0})
	if err != nil || again.Skill != "mechanical" {
		t.Errorf("de-escalation gave %+v (%v), want the skill kept", again, err)
	}
}

func TestSensorFaultRecordsAvoidedCallout(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	for i := range 3 {
		r, _, err := s.ApplyFault(ctx, "c", fmt.Sprint("f", i), postgres.FaultChange{MachineID: "m1", SensorID: "s1", Evidence: "stuck", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (r.Kind != job.SensorReplacement || r.Priority != job.Lowest || r.Skill != job.SensorSkill) {
			t.Errorf("fault opened %+v", r)
		}
	}
	jobs, _, err := s.ListJobs(ctx, job.Open, 50, "")
	if err != nil || len(jobs) != 1 {
		t.Fatalf("open jobs %d (%v), want one replacement", len(jobs), err)
	}
	sv, err := s.Savings(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(sv) != 1 || sv[0].Cause != job.SensorFault || sv[0].CalloutsAvoided != 1 || sv[0].HoursSaved != job.EmergencyCalloutHours {
		t.Errorf("savings %+v, want one call-out avoided by sensor fault", sv)
	}
}

func TestDeactivatedEngineerLeavesPlanning(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	addEngineer(t, ctx, s, "eng", "s")
	a := manual(t, ctx, s)
	if _, err := s.Book(ctx, a.ID, "eng", t0, t0.Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyUser(ctx, "c", "u2", postgres.UserChange{ID: "eng"}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Engineer(ctx, "eng")
	if err != nil || e.Active {
		t.Errorf("engineer %+v (%v), want inactive", e, err)
	}
	r, err := s.Job(ctx, a.ID)
	if err != nil || r.State != job.Open || r.EngineerID != "" {
		t.Errorf("job %+v (%v), want open again", r, err)
	}
	list, _, err := s.ListEngineers(ctx, true, 10, "")
	if err != nil || len(list) != 0 {
		t.Errorf("active engineers %v (%v), want none", list, err)
	}
}

// TestNewEngineersGetTheDefaults: a person who becomes an engineer starts with the store's
// defaults; an engineer whose planning data was set keeps it when identity sends another change.
func TestNewEngineersGetTheDefaults(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	all := []job.Shift{{Weekday: time.Monday, Start: 0, End: 1440}}
	s.SetEngineerDefaults(job.Engineer{Skills: []string{"general", "sensors"}, Home: job.LatLng{Lat: 52.37, Lng: 4.9}, Shifts: all})
	if _, err := s.ApplyUser(ctx, "test", "u1", postgres.UserChange{ID: "dee", DisplayName: "Dee", Engineer: true}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Engineer(ctx, "dee")
	if err != nil || fmt.Sprint(e.Skills) != "[general sensors]" || e.Home.Lat != 52.37 || len(e.Shifts) != 1 || e.Shifts[0].End != 1440 {
		t.Fatalf("new engineer %+v (%v), want the defaults", e, err)
	}
	if _, err := s.UpdateEngineer(ctx, job.Engineer{ID: "dee", Skills: []string{"thermal"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyUser(ctx, "test", "u2", postgres.UserChange{ID: "dee", DisplayName: "Dee D.", Engineer: true}); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Engineer(ctx, "dee"); err != nil || fmt.Sprint(e.Skills) != "[thermal]" || e.DisplayName != "Dee D." || len(e.Shifts) != 0 {
		t.Errorf("engineer after another identity change %+v (%v), want the dispatcher's data kept", e, err)
	}
}

// TestFailureDeclaredAFaultIsNoSaving: a declared fault counts as an avoided call-out only
// when clean data never showed its machine failing within a day of it (in sample time, before
// or after); otherwise it is a failure (wrongly) declared a fault, counted apart. An
// unconfirmed anomaly (an inspection) confirms nothing.
func TestFailureDeclaredAFaultIsNoSaving(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	fault := func(machine string, at time.Time) {
		t.Helper()
		if _, _, err := s.ApplyFault(ctx, "c", "f-"+machine, postgres.FaultChange{MachineID: machine, SensorID: machine + "-t", Evidence: "stuck", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	health := func(machine, id string, h job.Health, at time.Time) {
		t.Helper()
		if _, _, err := s.ApplyHealth(ctx, "c", id, postgres.HealthChange{MachineID: machine, Health: h, Reason: "temperature -5σ", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	fault("m1", t0)                                         // a fault alone: avoided
	fault("m2", t0)                                         // then CRITICAL 3 h later: a failure
	health("m2", "h-m2", job.Critical, t0.Add(3*time.Hour)) //
	fault("m3", t0)                                         // WARN 30 h later: unrelated, avoided
	health("m3", "h-m3", job.Warn, t0.Add(30*time.Hour))    //
	fault("m4", t0)                                         // unconfirmed 1 h later: an inspection, avoided
	health("m4", "h-m4", job.Unconfirmed, t0.Add(time.Hour))
	health("m5", "h-m5", job.Warn, t0.Add(-5*time.Hour)) // WARN 5 h before the fault: a failure
	fault("m5", t0)
	health("m6", "h-m6a", job.Unconfirmed, t0.Add(time.Hour)) // an inspection confirmed: a failure
	health("m6", "h-m6b", job.Warn, t0.Add(2*time.Hour))
	fault("m6", t0)
	sv, err := s.Savings(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := job.Savings{Cause: job.SensorFault, CalloutsAvoided: 3, HoursSaved: 3 * job.EmergencyCalloutHours, Failures: 3}
	if len(sv) != 1 || sv[0] != want {
		t.Errorf("savings %+v, want %+v (m1, m3, m4 avoided; m2, m5, m6 failures declared faults)", sv, want)
	}
	// Outside the period nothing is counted, failures included.
	if sv, err := s.Savings(ctx, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)); err != nil || len(sv) != 0 {
		t.Errorf("savings in an empty period %+v (%v), want none", sv, err)
	}
}
