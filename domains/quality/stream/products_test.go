package stream_test

import (
	"testing"

	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/governance/rule"
)

// TestProductsPassGovernance checks every declaration as the catalog will at registration.
func TestProductsPassGovernance(t *testing.T) {
	t.Parallel()
	for _, p := range stream.Products {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			d := p.Descriptor()
			if d.GetName() != "quality."+p.Name+".v1" {
				t.Errorf("name %q", d.GetName())
			}
			for _, f := range rule.Check(d) {
				if f.Severity == rule.Error {
					t.Errorf("governance: %s", f)
				} else {
					t.Logf("governance warning: %s", f)
				}
			}
		})
	}
}
