package chaos

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestReportProblems(t *testing.T) {
	t.Parallel()
	ok := Count{Product: "a", Expected: 3, Stored: 3, OutOfOrder: 2, Extra: 1, Redelivered: 7}
	faults := []FaultCount{{Kind: KillReplica, Injected: 1}, {Kind: KillNATSNode, Unavailable: "in-process"}}
	tests := []struct {
		name string
		rep  Report
		want []string
	}{
		{"passes: reorders, extras and redeliveries are counted, not failed", Report{Counts: []Count{ok}, Faults: faults}, nil},
		{"loss", Report{Counts: []Count{{Product: "a", Lost: 1, LostInputs: []string{"s#1"}}}}, []string{"a lost 1 (e.g. s#1)"}},
		{"stored duplicate", Report{Counts: []Count{{Product: "a", DuplicateInputs: 1}}}, []string{"a duplicated 1"}},
		{"double booking", Report{DoubleBookings: 2}, []string{"scheduling double bookings 2"}},
		{"fault too rare", Report{Faults: []FaultCount{{Kind: KillReplica, Injected: 1}}}, []string{`fault "kill -9 domain replica" injected 1 times, want at least 3`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			min := 1
			if strings.HasPrefix(tt.name, "fault") {
				min = 3
			}
			got := tt.rep.Problems(min)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("Problems = %q, want %q", got, tt.want)
			}
			var b bytes.Buffer
			tt.rep.Write(&b, min)
			if verdict := strings.HasPrefix(lastLine(b.String()), "PASS"); verdict != (len(tt.want) == 0) {
				t.Errorf("table ends %q with problems %q", lastLine(b.String()), tt.want)
			}
		})
	}
}

func TestReportTable(t *testing.T) {
	t.Parallel()
	rep := Report{Header: []string{"run"}, Counts: []Count{{Product: "quality.raw-readings.v1", Expected: 5, Stored: 5, Lost: 2, DuplicateIDs: 1, Redelivered: -1}},
		Faults: []FaultCount{{Kind: KillNATSNode, Unavailable: "nats nodes run in-process"}}, DoubleBookings: -1}
	var b bytes.Buffer
	rep.Write(&b, 1)
	for _, want := range []string{"lost 2", "duplicated 1", "not available: nats nodes run in-process", "not measured", "FAIL"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestDescendants finds a child and grandchild of this process through /proc, with their
// command lines, and NATSNodes picks out node processes by theirs.
func TestDescendants(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", "sleep 30 & exec sleep 31")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var procs []Proc
	// Until the forked child has exec'd sleep it still shows sh's command line.
	waitFor(5e9, func() bool {
		procs = Descendants(cmd.Process.Pid)
		return len(procs) > 0 && procs[0].Name() == "sleep"
	})
	if len(procs) != 1 || procs[0].Name() != "sleep" || procs[0].Args[1] != "30" {
		t.Errorf("Descendants of sh = %+v, want its background sleep 30", procs)
	}
	nodes := NATSNodes([]Proc{{PID: 1, Args: []string{"/bin/meshctl", "nats-node", "--name", "nats-2"}},
		{PID: 2, Args: []string{"/bin/meshctl", "nats-node", "--name=nats-3"}}, {PID: 3, Args: []string{"/bin/quality"}}})
	if len(nodes) != 2 || nodes["nats-2"].PID != 1 || nodes["nats-3"].PID != 2 {
		t.Errorf("NATSNodes = %+v", nodes)
	}
}
