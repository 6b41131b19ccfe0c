package launcher

import (
	"bytes"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// TestNATSNodeArgsRoundTrip parses back the command line the launcher gives each node.
func TestNATSNodeArgsRoundTrip(t *testing.T) {
	t.Parallel()
	nodes, err := planCluster("/srv/mesh", DefaultPorts().Offset(100))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		args := n.args()
		if args[0] != NATSNodeCommand || args[1] != "--name" || args[2] != n.name() {
			t.Errorf("%s's command line %q: want it to start %s --name %s", n.name(), args, NATSNodeCommand, n.name())
		}
		got, err := parseNATSNode(args[1:], io.Discard)
		if err != nil || !reflect.DeepEqual(got, n) {
			t.Errorf("parseNATSNode(%q) = %+v, %v; want %+v", args[1:], got, err, n)
		}
	}
	first, third := nodes[0], nodes[2]
	if first.port != 4322 || first.monitorPort != 8322 || first.clusterPort != 6322 || first.mqttPort != 1983 ||
		third.port != 4324 || third.monitorPort != 8324 || third.clusterPort != 6324 || third.mqttPort != -1 ||
		strings.Join(third.routes, ",") != "nats-route://127.0.0.1:6322,nats-route://127.0.0.1:6323,nats-route://127.0.0.1:6324" {
		t.Errorf("nodes with --port-offset 100: %+v, %+v", first, third)
	}
}

// TestSlogWriter keeps warnings and errors, drops notices and the known noise.
func TestSlogWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := &slogWriter{log: slog.New(slog.NewJSONHandler(&out, nil)), min: slog.LevelWarn}
	for _, l := range []string{"[INF] Server is ready\n", "[WRN] Plaintext passwords detected, use nkeys or bcrypt\n",
		"[WRN] Waiting for routing\n", "[ERR] route refused\n", "[FTL] cannot listen\n"} {
		if n, err := w.Write([]byte(l)); n != len(l) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	got := out.String()
	for _, want := range []string{`"level":"WARN","msg":"Waiting for routing"`, `"level":"ERROR","msg":"route refused"`,
		`"level":"ERROR","msg":"cannot listen"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Server is ready") || strings.Contains(got, "Plaintext") || strings.Count(got, "\n") != 3 {
		t.Errorf("want three lines, without the notice and the known noise:\n%s", got)
	}
}
