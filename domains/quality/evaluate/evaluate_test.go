package evaluate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"meshwork.dev/domains/quality/readings"
)

func opts() Options {
	return Options{TimeColumn: "ts", ValueColumn: "v", LabelColumn: "label",
		Spec:   readings.Spec{ID: "s", Kind: readings.Temperature, Min: -20, Max: 150},
		Config: readings.DefaultConfig(readings.Temperature)}
}

func TestRunScoresLabels(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("ts,v,label\n")
	for i := range 2000 {
		v, label := 40+0.3*rng.NormFloat64(), ""
		if i%100 == 50 {
			v, label = v+6, "spike"
		}
		if i == 700 {
			v, label = 900, "out_of_range"
		}
		fmt.Fprintf(&b, "%d,%.3f,%s\n", 1_700_000_000+60*i, v, label)
	}
	rep, err := Run(strings.NewReader(b.String()), opts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2000 || !rep.Labelled {
		t.Fatalf("rows %d labelled %v", rep.Rows, rep.Labelled)
	}
	for _, p := range rep.Flagged {
		if p.Label == "" {
			t.Logf("FP %v %.2f %v", p.Time, p.Value, p.Flags.Names())
		}
	}
	// Every labelled point is found; on pure noise a window-15 Hampel at 4 scaled MADs flags
	// a few tenths of a percent, which is why faults need repeated flags.
	if rep.TruePositives != 21 || rep.Recall() != 1 || rep.FalsePositives > rep.Rows/200 {
		t.Fatalf("TP %d FP %d FN %d: precision %.2f recall %.2f", rep.TruePositives, rep.FalsePositives,
			rep.FalseNegatives, rep.Precision(), rep.Recall())
	}
}

func TestRunWithoutLabels(t *testing.T) {
	t.Parallel()
	in := "ts,v\n2026-01-01T00:00:00Z,40\n2026-01-01T00:01:00Z,41\n2026-01-01T00:02:00Z,999\n"
	rep, err := Run(strings.NewReader(in), opts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Labelled || rep.Rows != 3 || len(rep.Flagged) != 1 || !rep.Flagged[0].Flags.Has(readings.OutOfRange) {
		t.Fatalf("report %+v", rep)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"missing column": "time,v\n1,2\n",
		"bad timestamp":  "ts,v\nyesterday,1\nnope,2\n",
		"empty":          "",
	} {
		if _, err := Run(strings.NewReader(in), opts()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
