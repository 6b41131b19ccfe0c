package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	cfgErr := &ConfigError{Problems: []ConfigProblem{{Var: "NATS_URL", Problem: "required but not set"}}}
	tests := []struct {
		name      string
		err       error
		signalled bool
		code      int
		out       string
	}{
		{"success", nil, false, 0, ""},
		{"config error", cfgErr, false, 2, "quality: config: NATS_URL: required but not set\n"},
		{"wrapped config error", fmt.Errorf("quality: %w", cfgErr), false, 2, "quality: quality: config: NATS_URL: required but not set\n"},
		{"other error on one line", errors.New("a\r\nb\nc"), false, 1, "quality: a b c\n"},
		{"cancelled by a signal", fmt.Errorf("connect: %w", context.Canceled), true, 0, ""},
		{"cancelled without a signal", context.Canceled, false, 1, "quality: context canceled\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if code := exitCode(&out, "quality", tt.err, tt.signalled); code != tt.code || out.String() != tt.out {
				t.Errorf("exitCode = %d, %q; want %d, %q", code, out.String(), tt.code, tt.out)
			}
		})
	}
}
