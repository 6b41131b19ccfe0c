package sim

import (
	"testing"
	"time"

	"meshwork.dev/domains/quality/readings"
)

// TestGroundTruth is the must-show on simulator ground truth: sensor-fault recall ≥
// 0.95 and precision ≥ 0.9, no CRITICAL outside a real failure (so never from a lone faulty
// sensor), and every bearing wear raising WARN or CRITICAL.
func TestGroundTruth(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		cfg := DefaultConfig()
		cfg.Machines, cfg.Seed = 9, seed
		span := 4 * 24 * time.Hour
		f := New(cfg, span)
		decls, health, err := Run(f, int(span/cfg.Interval))
		if err != nil {
			t.Fatal(err)
		}
		grace := int64(readings.History) * int64(cfg.Interval)
		sc := ScoreFaults(f.Episodes(), decls, grace)
		t.Logf("seed %d: %+v precision %.3f recall %.3f F1 %.3f", seed, sc, sc.Precision(), sc.Recall(), sc.F1())
		if sc.Detected+sc.Missed < 30 {
			t.Fatalf("seed %d: only %d fault episodes: the simulation is too small to score", seed, sc.Detected+sc.Missed)
		}
		if sc.Recall() < 0.95 || sc.Precision() < 0.9 {
			t.Errorf("seed %d: recall %.3f precision %.3f, want ≥ 0.95 and ≥ 0.9", seed, sc.Recall(), sc.Precision())
		}
		wear := map[string]Episode{}
		for _, e := range f.Episodes() {
			if e.Label == LabelWear {
				wear[e.Machine] = e
			}
		}
		if len(wear) == 0 {
			t.Fatal("no failure injected")
		}
		for m, evs := range health {
			for _, ev := range evs {
				w, failing := wear[m]
				if ev.Status == readings.Critical && (!failing || ev.Time < w.Start) {
					t.Errorf("seed %d: %s CRITICAL at %v without a real failure: %s", seed, m, time.Unix(0, ev.Time), ev.Reason)
				}
			}
		}
		for m, w := range wear {
			raised := false
			for _, ev := range health[m] {
				if ev.Time >= w.Start && ev.Status >= readings.Warn {
					raised = true
				}
			}
			if !raised {
				t.Errorf("seed %d: bearing wear on %s raised nothing", seed, m)
			}
		}
	}
}
