package job

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var monday = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// scenario builds n jobs and m engineers around a city, deterministic for a seed.
func scenario(seed uint64, n, m int) ([]Job, []Engineer) {
	r := rand.New(rand.NewPCG(seed, seed))
	skills := []string{"mechanical", "electrical", "thermal", "sensors"}
	at := func() LatLng { return LatLng{Lat: 52.3 + r.Float64()*0.4, Lng: 4.7 + r.Float64()*0.6} }
	var engs []Engineer
	for i := range m {
		e := Engineer{ID: fmt.Sprintf("e%02d", i), Home: at(), Skills: []string{skills[i%4], skills[(i+1)%4]}}
		for d := time.Sunday; d <= time.Saturday; d++ {
			e.Shifts = append(e.Shifts, Shift{Weekday: d, Start: 7 * 60, End: 17 * 60})
		}
		engs = append(engs, e)
	}
	var jobs []Job
	for i := range n {
		p := 1 + r.IntN(5)
		jobs = append(jobs, Job{ID: fmt.Sprintf("j%03d", i), Priority: p, Skill: skills[r.IntN(4)],
			Duration: time.Duration(30+r.IntN(4)*30) * time.Minute, Due: monday.Add(7*time.Hour + Due(p)/2), Location: at()})
	}
	return jobs, engs
}

func planner() Planner {
	return Planner{Travel: Estimate(40), From: monday, To: monday.Add(3 * 24 * time.Hour)}
}

// checkPlan fails when a route breaks a rule: skill, shift, overlaps, travel between stops.
func checkPlan(t *testing.T, p Planner, pl Plan, jobs []Job, engs []Engineer) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range engs {
		ws := e.Windows(p.From, p.To)
		var prevEnd time.Time
		for i, v := range pl.Routes[e.ID] {
			seen[v.Job.ID] = true
			if !e.Has(v.Job.Skill) {
				t.Errorf("%s got %s needing %s", e.ID, v.Job.ID, v.Job.Skill)
			}
			inShift := false
			for _, w := range ws {
				inShift = inShift || (!v.Start.Before(w.Start) && !v.End.After(w.End))
			}
			if !inShift {
				t.Errorf("%s: %s at %v-%v is outside every shift", e.ID, v.Job.ID, v.Start, v.End)
			}
			if i > 0 && v.Start.Before(prevEnd.Add(v.Travel)) {
				t.Errorf("%s: %s starts %v before the previous end %v plus travel %v", e.ID, v.Job.ID, v.Start, prevEnd, v.Travel)
			}
			prevEnd = v.End
		}
	}
	for _, j := range pl.Unassigned {
		seen[j.ID] = true
	}
	if len(seen) != len(jobs) {
		t.Errorf("plan covers %d jobs, want %d", len(seen), len(jobs))
	}
}

func TestOptimizeNeverWorseThanGreedy(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			jobs, engs := scenario(seed, 60, 5)
			p := planner()
			g, err := p.Greedy(context.Background(), jobs, engs)
			if err != nil {
				t.Fatal(err)
			}
			o, err := p.Optimize(context.Background(), jobs, engs)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, g, jobs, engs)
			checkPlan(t, p, o, jobs, engs)
			if o.Cost > g.Cost+1e-6 {
				t.Errorf("optimized cost %.1f > greedy %.1f", o.Cost, g.Cost)
			}
			t.Logf("greedy %.0f optimized %.0f", g.Cost, o.Cost)
		})
	}
}

func TestOptimizeImprovesAnObviousCase(t *testing.T) {
	t.Parallel()
	// Two engineers at opposite ends, two jobs each next to one engineer's home: greedy gives
	// both to whoever is free earliest in turn; the local search must end with no long trips.
	west, east := LatLng{Lat: 52, Lng: 4}, LatLng{Lat: 52, Lng: 6}
	shift := []Shift{{Weekday: time.Monday, Start: 8 * 60, End: 18 * 60}}
	engs := []Engineer{{ID: "w", Home: west, Skills: []string{"s"}, Shifts: shift}, {ID: "e", Home: east, Skills: []string{"s"}, Shifts: shift}}
	due := monday.Add(18 * time.Hour)
	jobs := []Job{
		{ID: "e1", Priority: 3, Skill: "s", Duration: time.Hour, Due: due, Location: east},
		{ID: "w1", Priority: 3, Skill: "s", Duration: time.Hour, Due: due, Location: west},
		{ID: "e2", Priority: 3, Skill: "s", Duration: time.Hour, Due: due, Location: east},
		{ID: "w2", Priority: 3, Skill: "s", Duration: time.Hour, Due: due, Location: west},
	}
	p := Planner{Travel: Estimate(60), From: monday, To: monday.Add(24 * time.Hour)}
	o, err := p.Optimize(context.Background(), jobs, engs)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p, o, jobs, engs)
	for e, vs := range o.Routes {
		for _, v := range vs {
			if v.Job.ID[0] != e[0] {
				t.Errorf("job %s planned for %s: the local search left a long trip", v.Job.ID, e)
			}
		}
	}
	if o.Cost != 0 {
		t.Errorf("cost %.1f, want 0 (no travel, no lateness)", o.Cost)
	}
}

func TestUnassignedWithoutSkillOrShift(t *testing.T) {
	t.Parallel()
	engs := []Engineer{{ID: "a", Skills: []string{"s"}, Shifts: []Shift{{Weekday: time.Monday, Start: 8 * 60, End: 9 * 60}}}}
	jobs := []Job{
		{ID: "skill", Priority: 1, Skill: "x", Duration: time.Hour, Due: monday},
		{ID: "long", Priority: 1, Skill: "s", Duration: 2 * time.Hour, Due: monday},
		{ID: "fits", Priority: 1, Skill: "s", Duration: time.Hour, Due: monday.Add(9 * time.Hour)},
	}
	p := Planner{Travel: Estimate(60), From: monday, To: monday.Add(24 * time.Hour)}
	o, err := p.Optimize(context.Background(), jobs, engs)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Unassigned) != 2 || len(o.Routes["a"]) != 1 || o.Routes["a"][0].Job.ID != "fits" {
		t.Errorf("routes %v unassigned %v, want only \"fits\" planned", o.Routes, o.Unassigned)
	}
}

type failing struct{}

func (failing) Travel(context.Context, LatLng, LatLng, time.Time) (time.Duration, error) {
	return 0, errors.New("logistics down")
}

func TestTravelErrorFailsThePlan(t *testing.T) {
	t.Parallel()
	jobs, engs := scenario(1, 5, 2)
	p := planner()
	p.Travel = failing{}
	if _, err := p.Optimize(context.Background(), jobs, engs); err == nil {
		t.Fatal("plan succeeded with failing travel times")
	}
}

// BenchmarkPlan500x30 plans 500 jobs for 30 engineers over three days with the greedy baseline
// and with the local search, reporting both costs: go test -bench Plan500 -run ^$ ./job
func BenchmarkPlan500x30(b *testing.B) {
	jobs, engs := scenario(42, 500, 30)
	p := planner()
	ctx := context.Background()
	b.Run("greedy", func(b *testing.B) {
		var pl Plan
		for b.Loop() {
			pl, _ = p.Greedy(ctx, jobs, engs)
		}
		b.ReportMetric(pl.Cost, "cost")
		b.ReportMetric(float64(len(pl.Unassigned)), "unassigned")
	})
	b.Run("optimize", func(b *testing.B) {
		g, _ := p.Greedy(ctx, jobs, engs)
		var pl Plan
		for b.Loop() {
			pl, _ = p.Optimize(ctx, jobs, engs)
		}
		if pl.Cost > g.Cost+1e-6 {
			b.Fatalf("optimized %.1f worse than greedy %.1f", pl.Cost, g.Cost)
		}
		b.ReportMetric(pl.Cost, "cost")
		b.ReportMetric(g.Cost, "greedy-cost")
		b.ReportMetric(100*(g.Cost-pl.Cost)/g.Cost, "%saved")
		b.ReportMetric(float64(len(pl.Unassigned)), "unassigned")
	})
}

// fixedSequencer answers every Order with its order, or its error.
type fixedSequencer struct {
	order []int
	err   error
}

func (f fixedSequencer) Order(context.Context, LatLng, []LatLng, time.Time) ([]int, []time.Time, error) {
	return f.order, nil, f.err
}

func TestResequenceTakesOnlyCheaperValidOrders(t *testing.T) {
	t.Parallel()
	// One engineer at home (52, 4.0), three jobs 1, 2 and 3 steps east: the cheapest route
	// visits them west to east. The route starts as [near, far, mid] (job indices 0, 2, 1).
	home := LatLng{Lat: 52, Lng: 4}
	engs := []Engineer{{ID: "a", Home: home, Skills: []string{"s"}, Shifts: []Shift{{Weekday: time.Monday, Start: 8 * 60, End: 18 * 60}}}}
	var jobs []Job
	for i := range 3 {
		jobs = append(jobs, Job{ID: fmt.Sprint(i), Priority: 3, Skill: "s", Duration: 30 * time.Minute,
			Due: monday.Add(18 * time.Hour), Location: LatLng{Lat: 52, Lng: 4 + 0.05*float64(i+1)}})
	}
	tests := []struct {
		name        string
		seq         fixedSequencer
		want        []int
		resequenced int
		errors      int
	}{
		// Stops are passed in route order (near, far, mid): near, mid, far is 0, 2, 1.
		{name: "cheaper order taken", seq: fixedSequencer{order: []int{0, 2, 1}}, want: []int{0, 1, 2}, resequenced: 1},
		{name: "dearer order refused", seq: fixedSequencer{order: []int{1, 0, 2}}, want: []int{0, 2, 1}},
		{name: "not a permutation", seq: fixedSequencer{order: []int{1, 1, 0}}, want: []int{0, 2, 1}, errors: 1},
		{name: "index out of range", seq: fixedSequencer{order: []int{1, 2, 3}}, want: []int{0, 2, 1}, errors: 1},
		{name: "sequencer fails", seq: fixedSequencer{err: errors.New("logistics down")}, want: []int{0, 2, 1}, errors: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Planner{Travel: Estimate(40), From: monday, To: monday.Add(24 * time.Hour), Sequencer: tt.seq}
			pr := p.newProblem(context.Background(), jobs, engs)
			orders := [][]int{{0, 2, 1}}
			pr.resequence(orders)
			if fmt.Sprint(orders[0]) != fmt.Sprint(tt.want) || pr.resequenced != tt.resequenced || pr.seqErrors != tt.errors {
				t.Errorf("order %v resequenced %d errors %d, want %v %d %d", orders[0], pr.resequenced, pr.seqErrors, tt.want, tt.resequenced, tt.errors)
			}
		})
	}
}

func TestFallbackUsesBackupOnlyWhenPrimaryFails(t *testing.T) {
	t.Parallel()
	a, b := LatLng{Lat: 52, Lng: 4}, LatLng{Lat: 52, Lng: 4.1}
	want, _ := Estimate(40).Travel(context.Background(), a, b, monday)

	ok := &Fallback{Primary: Estimate(40), Backup: Estimate(1)}
	if d, err := ok.Travel(context.Background(), a, b, monday); err != nil || d != want || ok.Failed.Load() != 0 {
		t.Errorf("healthy primary: %v %v, %d fallbacks; want %v from the primary", d, err, ok.Failed.Load(), want)
	}
	f := &Fallback{Primary: failing{}, Backup: Estimate(40)}
	if d, err := f.Travel(context.Background(), a, b, monday); err != nil || d != want || f.Failed.Load() != 1 {
		t.Errorf("failing primary: %v %v, %d fallbacks; want %v from the backup, one fallback", d, err, f.Failed.Load(), want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Travel(ctx, a, b, monday); err == nil {
		t.Error("a cancelled context fell back instead of failing")
	}
}

// prefetching is an Estimate that records its prefetches and fails them when asked to.
type prefetching struct {
	Estimate
	calls  [][]LatLng
	at     []time.Time
	broken bool
}

func (p *prefetching) Prefetch(_ context.Context, points []LatLng, at time.Time) error {
	p.calls, p.at = append(p.calls, points), append(p.at, at)
	if p.broken {
		return errors.New("logistics down")
	}
	return nil
}

// TestPlannerPrefetchesEveryPointOnce: a TravelMatrix source, directly or through Fallback, is
// asked once per plan with the engineers' homes then the job sites, at the horizon start; a
// failing prefetch still gives the same plan.
func TestPlannerPrefetchesEveryPointOnce(t *testing.T) {
	t.Parallel()
	jobs, engs := scenario(5, 12, 3)
	want, err := planner().Optimize(context.Background(), jobs, engs)
	if err != nil {
		t.Fatal(err)
	}
	for _, broken := range []bool{false, true} {
		src := &prefetching{Estimate: 40, broken: broken}
		for _, travel := range []TravelTimes{src, &Fallback{Primary: src, Backup: Estimate(1)}} {
			p := planner()
			p.Travel = travel
			got, err := p.Optimize(context.Background(), jobs, engs)
			if err != nil || got.Cost != want.Cost {
				t.Fatalf("broken %v, %T: cost %v (%v), want %v as without prefetch", broken, travel, got.Cost, err, want.Cost)
			}
		}
		if len(src.calls) != 2 {
			t.Fatalf("broken %v: %d prefetches for two plans, want 2", broken, len(src.calls))
		}
		pts := src.calls[0]
		if len(pts) != len(engs)+len(jobs) || pts[0] != engs[0].Home || pts[len(engs)] != jobs[0].Location || !src.at[0].Equal(monday) {
			t.Errorf("prefetched %d points at %v, want %d homes then sites at %v", len(pts), src.at[0], len(engs)+len(jobs), monday)
		}
	}
}
