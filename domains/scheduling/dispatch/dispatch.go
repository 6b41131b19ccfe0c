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

// Locator finds where a machine stands (quality's registry); an unknown machine is an
// errs.NotFound error.
type Locator interface {
	Machine(ctx context.Context, id string) (postgres.Machine, error)
}

// Config is what a dispatcher works with.
type Config struct {
	// Travel gives travel times (required): logistics, falling back to an estimate.
	Travel job.TravelTimes
	// Sequencer orders each engineer's day (logistics' OptimizeStops); nil keeps the local
	// search's order.
	Sequencer job.Sequencer
	// Locator looks up machines whose location is not known yet; nil leaves their jobs open.
	Locator Locator
	// ForgetTravel, when set, drops cached travel times; it runs when logistics publishes
	// changed ones.
	ForgetTravel func()
	// Log receives what a replan cannot return (default slog.Default()).
	Log *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Dispatcher replans open jobs.
type Dispatcher struct {
	store *postgres.Store
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	mu    sync.Mutex    // one replan at a time
	poke  chan struct{} // a replan is wanted (Run)
}

// New returns a dispatcher over store.
func New(store *postgres.Store, cfg Config) *Dispatcher {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Dispatcher{store: store, cfg: cfg, log: cfg.Log, now: cfg.Now, poke: make(chan struct{}, 1)}
}

// TravelChanged forgets the cached travel times and asks Run for a replan.
func (d *Dispatcher) TravelChanged() {
	if d.cfg.ForgetTravel != nil {
		d.cfg.ForgetTravel()
	}
	select {
	case d.poke <- struct{}{}:
	default:
	}
}

// Run replans every period, and after TravelChanged — at most once per gap however often it
// is called — until ctx ends. Periodic replans plan what time makes plannable: jobs whose
// machine is located late, assigned jobs leaving the frozen hour, shifts starting.
func (d *Dispatcher) Run(ctx context.Context, period, gap time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.poke:
		case <-tick.C:
		}
		d.replan(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
	}
}

// Locate makes sure the store knows where machine id stands, asking the Locator when it does
// not. A failure is logged, not returned: the job is opened anyway and stays unplanned until
// a later replan locates its machine.
func (d *Dispatcher) Locate(ctx context.Context, id string) {
	if d.cfg.Locator == nil || id == "" {
		return
	}
	known, err := d.store.HasMachine(ctx, id)
	if err != nil || known {
		return
	}
	m, err := d.cfg.Locator.Machine(ctx, id)
	if err != nil {
		d.log.WarnContext(ctx, "machine location unknown; its jobs wait", "machine", id, "err", err)
		return
	}
	if err := d.store.UpsertMachine(ctx, m); err != nil {
		d.log.WarnContext(ctx, "store machine location", "machine", id, "err", err)
	}
}

// locateMissing looks up the machines of open and assigned jobs that are not located.
func (d *Dispatcher) locateMissing(ctx context.Context) {
	if d.cfg.Locator == nil {
		return
	}
	ids, err := d.store.UnlocatedMachines(ctx)
	if err != nil {
		d.log.WarnContext(ctx, "list unlocated machines", "err", err)
		return
	}
	for _, id := range ids {
		d.Locate(ctx, id)
	}
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
	d.locateMissing(ctx)
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
	jobs := make([]job.Job, 0, len(open))
	for _, r := range open {
		if r.Located {
			jobs = append(jobs, r.Job)
		}
	}
	p := job.Planner{Travel: d.cfg.Travel, Sequencer: d.cfg.Sequencer, From: from, To: to}
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
		d.log.InfoContext(ctx, "jobs left open", "count", left, "unlocated", len(open)-len(jobs))
	}
	if plan.SequencerErrors > 0 {
		d.log.WarnContext(ctx, "routes not ordered by logistics", "count", plan.SequencerErrors)
	}
	return booked, nil
}
