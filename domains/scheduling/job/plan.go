package job

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// TravelTimes tells how long driving between two points takes when leaving at a time.
// The logistics client implements it; Estimate is a local fallback.
type TravelTimes interface {
	Travel(ctx context.Context, from, to LatLng, at time.Time) (time.Duration, error)
}

// TravelMatrix is implemented by TravelTimes that can fetch many travel times in one request
// (the logistics client, with GetTravelMatrix). A Planner calls Prefetch once with every point
// of a problem before it asks Travel pair by pair; Travel must still answer pairs the prefetch
// did not cover. A failed Prefetch is not fatal: Travel is asked anyway.
type TravelMatrix interface {
	Prefetch(ctx context.Context, points []LatLng, at time.Time) error
}

// Estimate is TravelTimes from the great-circle distance at a fixed speed in km/h, detour
// factor 1.3: for tests, benchmarks and when logistics is down.
type Estimate float64

// Travel returns the estimated travel time.
func (s Estimate) Travel(_ context.Context, from, to LatLng, _ time.Time) (time.Duration, error) {
	km := Haversine(from, to) * 1.3
	return time.Duration(km / float64(s) * float64(time.Hour)), nil
}

// Fallback is TravelTimes from Primary, or from Backup when Primary fails (logistics down, or
// a point outside its road grid). Failed counts the fallbacks; it is safe for concurrent use.
type Fallback struct {
	// Primary is asked first.
	Primary TravelTimes
	// Backup answers when Primary fails.
	Backup TravelTimes
	// Failed counts Primary's failures.
	Failed atomic.Int64
}

// Travel returns Primary's travel time, or Backup's when Primary fails; a cancelled ctx is an
// error, not a fallback.
func (f *Fallback) Travel(ctx context.Context, from, to LatLng, at time.Time) (time.Duration, error) {
	d, err := f.Primary.Travel(ctx, from, to, at)
	if err == nil || ctx.Err() != nil {
		return d, err
	}
	f.Failed.Add(1)
	return f.Backup.Travel(ctx, from, to, at)
}

// Prefetch passes the points to Primary when it is a TravelMatrix; its error is returned and
// not counted: the pairs it failed to fetch fall back one by one in Travel.
func (f *Fallback) Prefetch(ctx context.Context, points []LatLng, at time.Time) error {
	if m, ok := f.Primary.(TravelMatrix); ok {
		return m.Prefetch(ctx, points, at)
	}
	return nil
}

// Sequencer orders the stops of a route from start to minimise travel, returning the visiting
// order as indices into stops (logistics' OptimizeStops).
type Sequencer interface {
	Order(ctx context.Context, start LatLng, stops []LatLng, at time.Time) ([]int, []time.Time, error)
}

// Haversine returns the great-circle distance in kilometres.
func Haversine(a, b LatLng) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLng := (b.Lat-a.Lat)*rad, (b.Lng-a.Lng)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Sqrt(min(h, 1)))
}

// UnassignedPenalty is the cost of leaving a job of weight 1 unplanned, in minutes.
const UnassignedPenalty = 7 * 24 * 60.0

// Visit is one job on an engineer's route with its times.
type Visit struct {
	// Job visited.
	Job Job
	// Start of work on site.
	Start time.Time
	// End of work on site.
	End time.Time
	// Travel from the previous stop or home.
	Travel time.Duration
}

// Plan is the assignment of jobs to engineers.
type Plan struct {
	// Routes maps an engineer id to the visits in order.
	Routes map[string][]Visit
	// Unassigned are the jobs no engineer could take (no skill, no shift room).
	Unassigned []Job
	// Cost is priority-weighted lateness in minutes plus travel minutes plus the unassigned penalty.
	Cost float64
	// Resequenced counts the routes whose order came from the Sequencer.
	Resequenced int
	// SequencerErrors counts the routes the Sequencer could not order (the local search's
	// order is kept).
	SequencerErrors int
}

// Planner assigns jobs to engineers within a horizon.
type Planner struct {
	// Travel gives travel times.
	Travel TravelTimes
	// From and To bound the planning horizon.
	From, To time.Time
	// MaxPasses bounds the local search; 0 means 20.
	MaxPasses int
	// Sequencer, when set, is asked for the travel-optimal order of each route of three or
	// more jobs after the local search; its order is taken when it costs strictly less.
	Sequencer Sequencer
}

// problem is one planning run with resolved travel times.
type problem struct {
	ctx     context.Context
	p       Planner
	jobs    []Job
	engs    []Engineer
	windows [][]Window
	points  []LatLng        // engineers' homes first, then jobs
	travel  []time.Duration // dense matrix by point index, -1 when not fetched yet
	err     error
	// resequenced and seqErrors count the Sequencer's successes and failures.
	resequenced, seqErrors int
}

func (p Planner) newProblem(ctx context.Context, jobs []Job, engs []Engineer) *problem {
	pr := &problem{ctx: ctx, p: p, jobs: jobs, engs: engs}
	for _, e := range engs {
		pr.windows = append(pr.windows, e.Windows(p.From, p.To))
		pr.points = append(pr.points, e.Home)
	}
	for _, j := range jobs {
		pr.points = append(pr.points, j.Location)
	}
	pr.travel = make([]time.Duration, len(pr.points)*len(pr.points))
	for i := range pr.travel {
		pr.travel[i] = -1
	}
	if m, ok := p.Travel.(TravelMatrix); ok && len(pr.points) > 1 {
		// Best effort: what the prefetch missed is asked pair by pair in between.
		_ = m.Prefetch(ctx, pr.points, p.From)
	}
	return pr
}

// between returns the travel time between two points by index, memoised.
func (pr *problem) between(a, b int) time.Duration {
	if a == b || pr.points[a] == pr.points[b] {
		return 0
	}
	k := a*len(pr.points) + b
	if d := pr.travel[k]; d >= 0 {
		return d
	}
	d, err := pr.p.Travel.Travel(pr.ctx, pr.points[a], pr.points[b], pr.p.From)
	if err != nil && pr.err == nil {
		pr.err = err
	}
	pr.travel[k] = max(d, 0)
	return d
}

// route simulates engineer e doing jobs (indices) in order and returns the visits, the cost
// and whether every job fitted in a shift.
func (pr *problem) route(e int, order []int, visits []Visit) ([]Visit, float64, bool) {
	ws := pr.windows[e]
	wi, at, t := 0, e, time.Time{}
	if len(ws) > 0 {
		t = ws[0].Start
	}
	cost := 0.0
	visits = visits[:0]
	for _, j := range order {
		job := pr.jobs[j]
		tr := pr.between(at, len(pr.engs)+j)
		for {
			if wi >= len(ws) {
				return visits, math.Inf(1), false
			}
			start := maxTime(t.Add(tr), ws[wi].Start)
			if !start.Add(job.Duration).After(ws[wi].End) {
				t = start
				break
			}
			wi++
			if wi < len(ws) {
				t = ws[wi].Start
			}
		}
		end := t.Add(job.Duration)
		visits = append(visits, Visit{Job: job, Start: t, End: end, Travel: tr})
		cost += tr.Minutes()
		if late := end.Sub(job.Due); late > 0 {
			cost += job.Weight() * late.Minutes()
		}
		t, at = end, len(pr.engs)+j
	}
	return visits, cost, true
}

// Greedy plans the baseline: jobs in priority order (then due time), each appended to the
// route of the skilled engineer who can start it earliest.
func (p Planner) Greedy(ctx context.Context, jobs []Job, engs []Engineer) (Plan, error) {
	pr := p.newProblem(ctx, jobs, engs)
	orders, unassigned := pr.greedy()
	return pr.plan(orders, unassigned)
}

// Optimize plans with Greedy and improves it by local search (relocating a job to its best
// insertion point on any skilled engineer's route, and swapping jobs between routes), accepting
// only strict improvements: the result never costs more than the greedy baseline.
func (p Planner) Optimize(ctx context.Context, jobs []Job, engs []Engineer) (Plan, error) {
	pr := p.newProblem(ctx, jobs, engs)
	orders, unassigned := pr.greedy()
	pr.improve(orders, &unassigned)
	pr.resequence(orders)
	return pr.plan(orders, unassigned)
}

// resequence asks the Sequencer for each route of three or more jobs and takes its order when
// the route then costs strictly less (less travel can still mean more lateness).
func (pr *problem) resequence(orders [][]int) {
	if pr.p.Sequencer == nil {
		return
	}
	for e, o := range orders {
		if len(o) < 3 {
			continue
		}
		stops := make([]LatLng, len(o))
		for i, j := range o {
			stops[i] = pr.jobs[j].Location
		}
		at := pr.p.From
		if ws := pr.windows[e]; len(ws) > 0 {
			at = ws[0].Start
		}
		seq, _, err := pr.p.Sequencer.Order(pr.ctx, pr.engs[e].Home, stops, at)
		if err != nil || !isPermutation(seq, len(o)) {
			pr.seqErrors++
			continue
		}
		cand := make([]int, len(o))
		for i, k := range seq {
			cand[i] = o[k]
		}
		_, before, _ := pr.route(e, o, nil)
		if _, after, ok := pr.route(e, cand, nil); ok && after < before {
			orders[e] = cand
			pr.resequenced++
		}
	}
}

// isPermutation reports whether seq holds each of 0..n-1 exactly once.
func isPermutation(seq []int, n int) bool {
	if len(seq) != n {
		return false
	}
	seen := make([]bool, n)
	for _, k := range seq {
		if k < 0 || k >= n || seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

func (pr *problem) greedy() ([][]int, []int) {
	idx := make([]int, len(pr.jobs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ja, jb := pr.jobs[a], pr.jobs[b]
		if ja.Priority != jb.Priority {
			return ja.Priority - jb.Priority
		}
		return ja.Due.Compare(jb.Due)
	})
	orders := make([][]int, len(pr.engs))
	var unassigned []int
	var buf []Visit
	for _, j := range idx {
		best, bestStart := -1, time.Time{}
		for e := range pr.engs {
			if !pr.engs[e].Has(pr.jobs[j].Skill) {
				continue
			}
			v, _, ok := pr.route(e, append(orders[e], j), buf)
			buf = v
			if !ok {
				continue
			}
			if s := v[len(v)-1].Start; best < 0 || s.Before(bestStart) {
				best, bestStart = e, s
			}
		}
		if best < 0 {
			unassigned = append(unassigned, j)
			continue
		}
		orders[best] = append(orders[best], j)
	}
	return orders, unassigned
}

func (pr *problem) plan(orders [][]int, unassigned []int) (Plan, error) {
	if pr.err != nil {
		return Plan{}, fmt.Errorf("job.Planner: travel times: %w", pr.err)
	}
	pl := Plan{Routes: make(map[string][]Visit, len(pr.engs)), Resequenced: pr.resequenced, SequencerErrors: pr.seqErrors}
	for e, o := range orders {
		if len(o) == 0 {
			continue
		}
		v, c, _ := pr.route(e, o, nil)
		pl.Routes[pr.engs[e].ID] = v
		pl.Cost += c
	}
	for _, j := range unassigned {
		pl.Unassigned = append(pl.Unassigned, pr.jobs[j])
		pl.Cost += pr.jobs[j].Weight() * UnassignedPenalty
	}
	return pl, nil
}
