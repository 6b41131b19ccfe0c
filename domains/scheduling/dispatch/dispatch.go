// Package dispatch plans open jobs onto active engineers with job.Planner and books the plan
// in Postgres, retrying later slots when a booking conflicts; and it consumes the upstream
// data products (identity users, quality machine health and sensor faults) into the store.
package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/platform/errs"
)

// Horizon is how far ahead the dispatcher plans.
const Horizon = 72 * time.Hour

// Freeze is how far ahead assigned jobs stay put: the engineer may already be on the way.
// Later assigned jobs are replanned with the open ones.
const Freeze = time.Hour

// retryStep and retries bound the later slots tried when a planned slot conflicts.
const (
	retryStep = 15 * time.Minute
	retries   = 16
)

// Dispatcher replans open jobs.
type Dispatcher struct {
	store  *postgres.Store
	travel job.TravelTimes
	log    *slog.Logger
	now    func() time.Time
	mu     sync.Mutex // one replan at a time
}

// New returns a dispatcher; now may be nil for time.Now.
func New(store *postgres.Store, travel job.TravelTimes, log *slog.Logger, now func() time.Time) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	return &Dispatcher{store: store, travel: travel, log: log, now: now}
}

// Replan plans every open job, and every assigned job starting after Freeze, onto the active
// engineers around their frozen slots, and books the result in one transaction; it returns how
// many jobs it booked. A slot taken meanwhile (exclusion constraint) is retried on later slots;
// a job that fits nowhere stays or goes back to open.
func (d *Dispatcher) Replan(ctx context.Context) (int, error) {
	const op = "dispatch.Dispatcher.Replan"
	d.mu.Lock()
	defer d.mu.Unlock()
	from := d.now().UTC().Truncate(time.Minute)
	to := from.Add(Horizon)
	open, _, err := d.store.ListJobs(ctx, job.Open, 5000, "")
	if err != nil {
		return 0, errs.Wrap(op, err)
	}
	movable, err := d.store.Movable(ctx, from.Add(Freeze))
	if err != nil {
		return 0, errs.Wrap(op, err)
	}
	if len(open)+len(movable) == 0 {
		return 0, nil
	}
	open = append(open, movable...)
	engs, _, err := d.store.ListEngineers(ctx, true, 500, "")
	if err != nil {
		return 0, errs.Wrap(op, err)
	}
	busy, err := d.store.Busy(ctx, from, to, from.Add(Freeze))
	if err != nil {
		return 0, errs.Wrap(op, err)
	}
	planEngs := make([]job.Engineer, 0, len(engs))
	for _, e := range engs {
		pe := e.Engineer
		pe.Busy = busy[e.ID]
		planEngs = append(planEngs, pe)
	}
	jobs := make([]job.Job, len(open))
	for i, r := range open {
		jobs[i] = r.Job
	}
	p := job.Planner{Travel: d.travel, From: from, To: to}
	plan, err := p.Optimize(ctx, jobs, planEngs)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	var placements []postgres.Placement
	for eng, visits := range plan.Routes {
		for _, v := range visits {
			slots := make([]job.Window, 0, retries+1)
			for k := range retries + 1 {
				shift := time.Duration(k) * retryStep
				slots = append(slots, job.Window{Start: v.Start.Add(shift), End: v.End.Add(shift)})
			}
			placements = append(placements, postgres.Placement{JobID: v.Job.ID, EngineerID: eng, Slots: slots, Travel: v.Travel})
		}
	}
	booked, err := d.store.ApplyPlan(ctx, placements, movable)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if left := len(open) - booked; left > 0 {
		d.log.InfoContext(ctx, "jobs left open", "count", left)
	}
	return booked, nil
}
