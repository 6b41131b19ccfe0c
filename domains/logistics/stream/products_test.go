package stream_test

import (
	"testing"

	"meshwork.dev/domains/logistics/stream"
	"meshwork.dev/governance/rule"
)

// TestProductsPassGovernance checks each declaration as the catalog will at registration.
func TestProductsPassGovernance(t *testing.T) {
	t.Parallel()
	for _, p := range stream.All {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", p.ID(), err)
		}
		for _, f := range rule.Check(p.Descriptor()) {
			if f.Severity == rule.Error {
				t.Errorf("%s: governance: %s", p.ID(), f)
			} else {
				t.Logf("%s: advice: %s", p.ID(), f)
			}
		}
	}
}
