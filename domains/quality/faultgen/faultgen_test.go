package faultgen

import (
	"math"
	"reflect"
	"testing"
	"time"
)

var small = Config{Machines: 2, Length: 4 * 24 * 60, Interval: time.Minute, Episodes: 8, Clean: 24 * 60}

func TestGenerateIsReproducibleAndSeeded(t *testing.T) {
	t.Parallel()
	a, b, c := Generate(small, 1), Generate(small, 1), Generate(small, 2)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different series")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same series")
	}
}

func TestLabelsMatchEpisodes(t *testing.T) {
	t.Parallel()
	for _, s := range Generate(small, 3) {
		if len(s.Samples) != small.Length {
			t.Fatalf("%s: %d samples, want %d", s.Sensor, len(s.Samples), small.Length)
		}
		want := make([]Fault, len(s.Samples))
		for _, e := range s.Episodes {
			if e.From < small.Clean || e.To > small.Length || e.From >= e.To {
				t.Fatalf("%s: episode %+v outside [%d, %d)", s.Sensor, e, small.Clean, small.Length)
			}
			for j := e.From; j < e.To; j++ {
				if want[j] != Clean {
					t.Fatalf("%s: episodes overlap at %d", s.Sensor, j)
				}
				want[j] = e.Fault
			}
		}
		for j, x := range s.Samples {
			if x.Fault != want[j] {
				t.Fatalf("%s sample %d: label %q, episodes say %q", s.Sensor, j, x.Fault, want[j])
			}
			if x.Missing != (x.Fault == Dropout) {
				t.Fatalf("%s sample %d: missing %v with label %q", s.Sensor, j, x.Missing, x.Fault)
			}
			if q := s.Profile.Resolution; !x.Missing && math.Abs(x.Value/q-math.Round(x.Value/q)) > 1e-6 {
				t.Fatalf("%s sample %d: %v not a multiple of the resolution %v", s.Sensor, j, x.Value, q)
			}
		}
	}
}

func TestStuckHoldsAndSpikeStandsOut(t *testing.T) {
	t.Parallel()
	seen := map[Fault]bool{}
	for _, s := range Generate(Config{Machines: 3, Length: 7 * 24 * 60, Interval: time.Minute, Episodes: 12, Clean: 24 * 60}, 5) {
		for _, e := range s.Episodes {
			seen[e.Fault] = true
			switch e.Fault {
			case Stuck:
				for j := e.From; j < e.To; j++ {
					if s.Samples[j].Value != s.Samples[e.From].Value {
						t.Fatalf("%s: stuck episode %+v changes at %d", s.Sensor, e, j)
					}
				}
			case Spike:
				p := s.Profile
				prev := s.Samples[e.From-1].Value
				if d := math.Abs(s.Samples[e.From].Value - prev); d < 0.4*(p.Daily+p.Load) {
					t.Fatalf("%s: spike %+v only %v from the reading before", s.Sensor, e, d)
				}
			}
		}
	}
	for _, f := range Faults {
		if !seen[f] {
			t.Errorf("no %s episode generated", f)
		}
	}
}
