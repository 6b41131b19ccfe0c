package faultgen

import (
	"testing"
	"time"
)

// perfect flags exactly the labelled readings; for a dropout, the first reading after it.
func perfect(series []Series) [][][]Fault {
	out := make([][][]Fault, len(series))
	for i, s := range series {
		out[i] = make([][]Fault, len(s.Samples))
		for j, x := range s.Samples {
			switch {
			case x.Missing:
			case x.Fault != Clean:
				out[i][j] = []Fault{x.Fault}
			case j > 0 && s.Samples[j-1].Missing:
				out[i][j] = []Fault{Dropout}
			}
		}
	}
	return out
}

func TestEvaluatePerfectDetector(t *testing.T) {
	t.Parallel()
	series := Generate(small, 4)
	rep := Evaluate(series, perfect(series))
	for _, s := range append(rep.Types, rep.Overall) {
		if s.Episodes > 0 && (s.Precision != 1 || s.Recall != 1 || s.F1 != 1) {
			t.Errorf("%q: precision %v recall %v F1 %v, want 1", s.Fault, s.Precision, s.Recall, s.F1)
		}
	}
	if rep.FalseFlags != 0 || rep.CleanReadings == 0 {
		t.Fatalf("false flags %d of %d clean readings", rep.FalseFlags, rep.CleanReadings)
	}
}

func TestEvaluateCountsFalseFlagsAndMisses(t *testing.T) {
	t.Parallel()
	s := Series{Sensor: "x", Interval: time.Minute, Samples: make([]Sample, 100),
		Episodes: []Episode{{Fault: Stuck, From: 50, To: 60}}}
	for j := 50; j < 60; j++ {
		s.Samples[j].Fault = Stuck
	}
	flags := make([][]Fault, 100)
	flags[10] = []Fault{Spike} // a false spike
	flags[56] = []Fault{Stuck} // found 6 readings late
	flags[90] = []Fault{Stuck} // a false stuck
	rep := Evaluate([]Series{s}, [][][]Fault{flags})
	st := rep.Types[1]
	if st.Fault != Stuck || st.Found != 1 || st.Detections != 2 || st.True != 1 || st.Delay(0.5) != 6 {
		t.Fatalf("stuck score %+v, want found 1 of 2 detections, delay 6", st)
	}
	if rep.FalseFlags != 2 || rep.CleanReadings != 100-10-Grace {
		t.Fatalf("false flags %d of %d", rep.FalseFlags, rep.CleanReadings)
	}
	if sp := rep.Types[0]; sp.Precision != 0 || sp.Episodes != 0 {
		t.Fatalf("spike score %+v, want precision 0", sp)
	}
}
