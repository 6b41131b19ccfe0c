package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunUpFlags covers what runUp decides before it starts anything.
func TestRunUpFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		err    string // "" for no error
		stderr string
	}{
		{args: []string{"-h"}, stderr: "usage: meshctl up [--dir .mesh] [--bin ./bin] [--no-sim] [--only catalog,quality]"},
		{args: []string{"--bogus"}, err: "up: flag provided but not defined: -bogus"},
		{args: []string{"extra"}, err: `up: unexpected arguments ["extra"]`},
		{args: []string{"--bin", t.TempDir()}, err: "catalog not found (`make run` builds the binaries)"},
		{args: []string{"--bin", t.TempDir(), "--only", "qualty"}, err: "--only qualty: no such service"},
		{args: []string{"--replicas", "0"}, err: "up: --replicas 0: want 1 to 3 processes per domain service"},
		{args: []string{"--replicas", "4", "--ha"}, err: "up: --replicas 4: want 1 to 3 processes per domain service"},
		{args: []string{"--replicas", "two"}, err: `up: invalid value "two" for flag -replicas`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := runUp(context.Background(), tt.args, &stdout, &stderr)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("runUp = %v, want nil", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("runUp = %v, want %q", err, tt.err)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
		})
	}
}

// TestNATSNodeArgs covers the hidden nats-node command's checks of its command line.
func TestNATSNodeArgs(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"nats-node", "--name", "nats-4", "--dir", "rel", "--port", "0", "--monitor-port", "8222",
		"--cluster-port", "6222"}, strings.NewReader(""), &stdout, &stderr)
	want := `meshctl: nats-node: --name "nats-4": want nats-1 … nats-3; --dir "rel": want an absolute directory; ` +
		"--port 0: want a port from 1 to 65535; --routes: want the route URLs of the nodes\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("nats-node with bad flags: exit %d, stderr %q; want 1, %q", code, stderr.String(), want)
	}
	code = run(context.Background(), []string{"nats-node", "--name", "nats-1", "--dir", t.TempDir(), "--port", "4222", "--monitor-port", "8222",
		"--cluster-port", "6222", "--routes", "nats-route://127.0.0.1:6222"}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "secrets.json has none (meshctl up writes them before it starts a node)") {
		t.Errorf("nats-node without the mesh's keys: exit %d, stderr %q", code, stderr.String())
	}
}
