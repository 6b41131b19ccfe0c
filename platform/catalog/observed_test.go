package catalog_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"meshwork.dev/platform/catalog"
)

func TestAssess(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	stream := func(messages uint64, last time.Time) catalog.Observed {
		return catalog.Observed{At: now, Readable: true, StreamExists: true, Messages: messages, LastSeq: messages, LastTime: last}
	}
	tests := []struct {
		name      string
		o         catalog.Observed
		objective time.Duration
		state     catalog.FreshnessState
		age       time.Duration
	}{
		{"unreadable", catalog.Observed{At: now, Err: errors.New("timeout")}, time.Minute, catalog.Unknown, 0},
		{"no stream", catalog.Observed{At: now, Readable: true}, time.Minute, catalog.Unknown, 0},
		{"empty", stream(0, time.Time{}), time.Minute, catalog.Empty, 0},
		{"young", stream(3, now.Add(-10*time.Second)), time.Minute, catalog.Fresh, 10 * time.Second},
		{"exactly the objective", stream(3, now.Add(-time.Minute)), time.Minute, catalog.Fresh, time.Minute},
		{"older", stream(3, now.Add(-time.Minute-time.Millisecond)), time.Minute, catalog.Stale, time.Minute + time.Millisecond},
		{"clock skew", stream(3, now.Add(time.Second)), time.Minute, catalog.Fresh, 0},
		{"no objective", stream(3, now.Add(-24*time.Hour)), 0, catalog.Fresh, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := catalog.Assess(tt.o, tt.objective)
			if f.State != tt.state || f.Age != tt.age || f.Objective != tt.objective {
				t.Errorf("Assess = %v age %v objective %v, want %v age %v objective %v",
					f.State, f.Age, f.Objective, tt.state, tt.age, tt.objective)
			}
		})
	}
}

func TestConsumerDomain(t *testing.T) {
	t.Parallel()
	tests := []struct{ durable, product, want string }{
		{"scheduling--quality_machine-health_v1", "quality.machine-health.v1", "scheduling"},
		{"field-ops--quality_machine-health_v1", "quality.machine-health.v1", "field-ops"},
		{"scheduling--quality_clean-readings_v1", "quality.machine-health.v1", ""}, // another product
		{"scheduling-quality_machine-health_v1", "quality.machine-health.v1", ""},  // one dash
		{"Scheduling--quality_machine-health_v1", "quality.machine-health.v1", ""}, // not kebab-case
		{"--quality_machine-health_v1", "quality.machine-health.v1", ""},
		{"dashboard", "quality.machine-health.v1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.durable, func(t *testing.T) {
			t.Parallel()
			if got := catalog.ConsumerDomain(tt.durable, tt.product); got != tt.want {
				t.Errorf("ConsumerDomain(%q, %q) = %q, want %q", tt.durable, tt.product, got, tt.want)
			}
		})
	}
}

func TestConsumerDomainsAreDistinct(t *testing.T) {
	t.Parallel()
	o := catalog.Observed{Consumers: []catalog.Consumer{{Domain: "b"}, {Domain: ""}, {Domain: "a"}, {Domain: "b"}}}
	if got := o.ConsumerDomains(); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("ConsumerDomains = %v, want [b a]", got)
	}
}
