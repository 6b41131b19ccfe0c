package postgres_test

import (
	"testing"
	"time"

	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/postgres"
)

// TestApplyPlanMovesAssignedJobs: a replan swaps two future jobs' slots in one transaction
// (no false conflict with the slots being released), steps past a frozen booking, and puts
// a movable job it leaves out back to open.
func TestApplyPlanMovesAssignedJobs(t *testing.T) {
	t.Parallel()
	ctx, s := newStore(t)
	addEngineer(t, ctx, s, "eng", "s")
	frozen, a, b, c := manual(t, ctx, s), manual(t, ctx, s), manual(t, ctx, s), manual(t, ctx, s)
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	for _, bk := range []struct {
		id   string
		from float64
	}{{frozen.ID, 0}, {a.ID, 2}, {c.ID, 5}} {
		if _, err := s.Book(ctx, bk.id, "eng", h(bk.from), h(bk.from+1), 0); err != nil {
			t.Fatal(err)
		}
	}
	movable, err := s.Movable(ctx, h(1))
	if err != nil || len(movable) != 2 {
		t.Fatalf("movable %d (%v), want a and c", len(movable), err)
	}
	slot := func(from float64) []job.Window {
		return []job.Window{{Start: h(from), End: h(from + 1)}, {Start: h(from + 0.5), End: h(from + 1.5)}, {Start: h(from + 1), End: h(from + 2)}}
	}
	n, err := s.ApplyPlan(ctx, []postgres.Placement{
		{JobID: b.ID, EngineerID: "eng", Slots: slot(2)},   // a's old slot
		{JobID: a.ID, EngineerID: "eng", Slots: slot(0.5)}, // overlaps the frozen job: steps to 1:00
	}, movable)
	if err != nil || n != 2 {
		t.Fatalf("booked %d (%v), want 2", n, err)
	}
	check := func(r job.Record, state job.State, start time.Time) {
		t.Helper()
		got, err := s.Job(ctx, r.ID)
		if err != nil || got.State != state || !got.Starts.Equal(start) {
			t.Errorf("job state %v at %v (%v), want %v at %v", got.State, got.Starts, err, state, start)
		}
	}
	check(frozen, job.Assigned, h(0))
	check(a, job.Assigned, h(1))
	check(b, job.Assigned, h(2))
	check(c, job.Open, time.Time{})
}
