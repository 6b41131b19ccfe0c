package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     RelayConfig
		wantErr string // "" means valid
	}{
		{"defaults in the JetStream default window", RelayConfig{DuplicateWindow: 2 * time.Minute}, ""},
		{"window required", RelayConfig{}, "DuplicateWindow is required"},
		// Defaults: Horizon = 3×10s + 1s + 1s = 32s, so the window must exceed 64s.
		{"window below twice the horizon", RelayConfig{DuplicateWindow: 64 * time.Second}, "would not be de-duplicated"},
		{"window just above twice the horizon", RelayConfig{DuplicateWindow: 65 * time.Second}, ""},
		{"long claims need a longer window", RelayConfig{DuplicateWindow: 2 * time.Minute, ClaimTimeout: time.Minute}, "would not be de-duplicated"},
		{"long first backoff", RelayConfig{DuplicateWindow: 2 * time.Minute, RetryBackoff: 30 * time.Second, MaxRetryBackoff: time.Minute}, "would not be de-duplicated"},
		{"publish timeout too long for the claim", RelayConfig{DuplicateWindow: 2 * time.Minute, PublishTimeout: 3 * time.Second}, "quarter of ClaimTimeout"},
		{"max backoff below backoff", RelayConfig{DuplicateWindow: 2 * time.Minute, RetryBackoff: 2 * time.Second, MaxRetryBackoff: time.Second}, "below RetryBackoff"},
		{"negative duration", RelayConfig{DuplicateWindow: 2 * time.Minute, PollInterval: -time.Second}, "negative"},
		{"batch too big", RelayConfig{DuplicateWindow: 2 * time.Minute, BatchSize: 20000}, "BatchSize"},
		{"bad table", RelayConfig{DuplicateWindow: 2 * time.Minute, Tables: Tables{Outbox: "a;drop"}}, "not a plain identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg.withDefaults()
			err := cfg.validate()
			if err == nil {
				_, err = cfg.Tables.resolve()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("validate = %v, want valid", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	cfg := RelayConfig{RetryBackoff: time.Second, MaxRetryBackoff: 10 * time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := cfg.backoff(i + 1); got != w {
			t.Errorf("backoff after %d attempts = %v, want %v", i+1, got, w)
		}
	}
	if got := cfg.backoff(1000); got != 10*time.Second {
		t.Errorf("backoff after 1000 attempts = %v, want the cap", got)
	}
}

func TestInDoubt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{nats.ErrTimeout, true},
		{nats.ErrConnectionClosed, true},
		{jetstream.ErrInvalidJSAck, true},
		{errors.New("something else"), true},
		{errNotConnected, false},
		{jetstream.ErrNoStreamResponse, false},
		{nats.ErrMaxPayload, false},
		{fmt.Errorf("nats: %w", &jetstream.APIError{Code: 400, ErrorCode: 10054, Description: "message size exceeds maximum allowed"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			t.Parallel()
			if got := inDoubt(tt.err); got != tt.want {
				t.Errorf("inDoubt(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestTableNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tables  Tables
		outbox  string
		channel string
		wantErr bool
	}{
		{Tables{}, `"outbox_events"`, "outbox_events", false},
		{Tables{Outbox: "billing.out", Inbox: "billing.in"}, `"billing"."out"`, "billing.out", false},
		{Tables{Outbox: "Out_2"}, `"Out_2"`, "Out_2", false},
		{Tables{Outbox: "a.b.c"}, "", "", true},
		{Tables{Outbox: "2out"}, "", "", true},
		{Tables{Outbox: `out"; drop table x; --`}, "", "", true},
		{Tables{Outbox: "x", Inbox: "x"}, "", "", true},
		{Tables{Outbox: strings.Repeat("o", 41)}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.tables.Outbox, func(t *testing.T) {
			t.Parallel()
			n, err := tt.tables.resolve()
			if (err != nil) != tt.wantErr {
				t.Fatalf("resolve = %+v, %v; want error %v", n, err, tt.wantErr)
			}
			if err == nil && (n.outbox != tt.outbox || n.channel != tt.channel) {
				t.Errorf("resolve = %s on channel %s, want %s on %s", n.outbox, n.channel, tt.outbox, tt.channel)
			}
		})
	}
}

func TestCheckSubject(t *testing.T) {
	t.Parallel()
	for subject, ok := range map[string]bool{
		"dp.quality.clean-readings.v1.m-17": true,
		"a":                                 true,
		"":                                  false,
		"dp..v1":                            false,
		"dp.x.":                             false,
		"dp.*.v1":                           false,
		"dp.>":                              false,
		"dp.a b":                            false,
	} {
		if err := checkSubject(subject); (err == nil) != ok {
			t.Errorf("checkSubject(%q) = %v, want ok=%v", subject, err, ok)
		}
	}
}
