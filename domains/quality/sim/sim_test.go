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

// TestLocations checks the machines stand within the radius of the centre, apart from each
// other, the same for the same seed and elsewhere for another seed.
func TestLocations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		centre LatLng
		radius float64
	}{
		{"default city", DefaultCentre, DefaultRadius},
		{"elsewhere, smaller", LatLng{Lat: -33.9, Lng: 18.4}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Machines, cfg.Centre, cfg.Radius = 9, tt.centre, tt.radius
			a := New(cfg, 48*time.Hour).Locations()
			b := New(cfg, 48*time.Hour).Locations()
			cfg.Seed = 2
			other := New(cfg, 48*time.Hour).Locations()
			if len(a) != 9 {
				t.Fatalf("%d locations for 9 machines", len(a))
			}
			seen := map[LatLng]bool{}
			for id, at := range a {
				if d := DistanceM(tt.centre, at); d > tt.radius {
					t.Errorf("%s at %v is %.0f m from the centre, more than %.0f", id, at, d, tt.radius)
				}
				if b[id] != at {
					t.Errorf("%s: %v, then %v for the same seed", id, at, b[id])
				}
				if other[id] == at {
					t.Errorf("%s: same place %v for another seed", id, at)
				}
				if seen[at] {
					t.Errorf("%s shares its place %v", id, at)
				}
				seen[at] = true
			}
		})
	}
}
