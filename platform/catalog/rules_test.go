package catalog_test

import (
	"strings"
	"testing"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/errs"
)

func TestCheckCompilesQualityRules(t *testing.T) {
	t.Parallel()
	d := catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...)
	d.Rules = []*platformv1.QualityRule{
		{Id: "value-in-range", Expression: "event.value >= 0.0", Policy: platformv1.RulePolicy_RULE_POLICY_REJECT},
		{Id: "typo", Expression: "event.celsius > 1.0", Policy: platformv1.RulePolicy_RULE_POLICY_COUNT},
		{Id: "no-policy", Expression: "true"},
	}
	_, err := catalog.Check(d)
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("Check: %v, want Invalid", err)
	}
	var fields []string
	for _, v := range errs.Violations(err) {
		fields = append(fields, v.Field)
	}
	if got, want := strings.Join(fields, " "), "descriptor.rules[1].expression descriptor.rules[2].policy"; got != want {
		t.Fatalf("violations on %q, want %q (%v)", got, want, err)
	}
	d.Rules = d.Rules[:1]
	if _, err := catalog.Check(d); err != nil {
		t.Fatalf("Check with a valid rule: %v", err)
	}
}
