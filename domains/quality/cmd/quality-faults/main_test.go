package main

import (
	"strings"
	"testing"
)

func TestRunPrintsEveryFaultType(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := run(&b, "1", 1); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, row := range []string{"| spike |", "| stuck |", "| drift |", "| noise |", "| dropout |", "| all |", "false flags on clean readings",
		"machine health on machines that never fail (1 machine-weeks): WARN", "events"} {
		if !strings.Contains(out, row) {
			t.Errorf("output lacks %q:\n%s", row, out)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		seeds    string
		machines int
		want     string
	}{{"1,x", 1, `"x" is not a seed`}, {"-1", 1, "is not a seed"}, {"1", 0, "--machines 0"}} {
		err := run(&strings.Builder{}, c.seeds, c.machines)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("seeds %q machines %d: error %v, want one containing %q", c.seeds, c.machines, err, c.want)
		}
	}
}
