package chaos

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMeshctl writes a meshctl that prints help for `up --help`, as the flag package does.
func fakeMeshctl(t *testing.T, help string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meshctl")
	script := "#!/bin/sh\ncat >&2 <<'EOF'\n" + help + "\nEOF\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDetectTopology(t *testing.T) {
	t.Parallel()
	today := "usage: meshctl up [--ha]\n  -ha\n    \trun NATS as a three-node cluster\n  -no-sim\n"
	later := today + "  -replicas int\n    \tprocesses per domain\n"
	tests := []struct {
		name     string
		help     string
		ha       bool
		replicas int
		want     Topology
		why      string
	}{
		{"today's meshctl: cluster, one replica, and it says so", today, true, 2, Topology{HA: true, Replicas: 1}, "no --replicas"},
		{"with --replicas", later, true, 2, Topology{HA: true, Replicas: 2}, ""},
		{"no --ha at all", "usage: meshctl up\n  -no-sim\n", true, 1, Topology{Replicas: 1}, "no --ha"},
		{"single NATS asked for", later, false, 2, Topology{Replicas: 2}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := DetectTopology(context.Background(), fakeMeshctl(t, tt.help), tt.ha, tt.replicas)
			why := strings.Join(got.Why, "; ")
			if got.HA != tt.want.HA || got.Replicas != tt.want.Replicas || (tt.why == "") != (why == "") || !strings.Contains(why, tt.why) {
				t.Errorf("DetectTopology = %+v, want %+v with a reason containing %q", got, tt.want, tt.why)
			}
			wantArgs := 0
			if tt.want.HA {
				wantArgs++
			}
			if tt.want.Replicas > 1 {
				wantArgs += 2
			}
			if len(got.args()) != wantArgs {
				t.Errorf("args() = %q", got.args())
			}
		})
	}
}
