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
