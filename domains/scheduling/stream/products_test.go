package stream_test

import (
	"slices"
	"testing"

	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/governance/rule"
)

// TestProductsPassGovernance checks the declarations as the catalog will at registration.
func TestProductsPassGovernance(t *testing.T) {
	t.Parallel()
	for _, p := range append(slices.Clone(stream.Products), stream.Upstreams...) {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.ID(), err)
		}
	}
	d := stream.ServiceJobs.Descriptor()
	for _, f := range rule.Check(d) {
		t.Errorf("governance: %s", f)
	}
	if d.GetName() != "scheduling.service-jobs.v1" || d.GetStream() != "SCHEDULING_SERVICE_JOBS_V1" {
		t.Errorf("descriptor %s on %s", d.GetName(), d.GetStream())
	}
	var pii []string
	for _, f := range d.GetPiiFields() {
		pii = append(pii, f.GetPath())
	}
	if !slices.Contains(pii, "job.engineer_id") {
		t.Errorf("PII fields %v lack job.engineer_id", pii)
	}
}
