package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/web"
	"meshwork.dev/platform/dataproduct"
)

// TestProductPageShowsRulesAndViolationCounts registers a product with rules, records
// violations as the SDK does (subjects of the RULEVIOLATIONS stream) and reads the page.
func TestProductPageShowsRulesAndViolationCounts(t *testing.T) {
	e := newEnv(t, web.Config{})
	d := catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...)
	d.Rules = []*platformv1.QualityRule{
		{Id: "value-in-range", Description: "value within 0..100", Expression: "event.value >= 0.0 && event.value <= 100.0", Policy: platformv1.RulePolicy_RULE_POLICY_REJECT, Dimension: "accuracy"},
		{Id: "unit-set", Expression: `event.unit != ""`, Policy: platformv1.RulePolicy_RULE_POLICY_COUNT},
	}
	e.register(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.js.CreateStream(ctx, jetstreamConfig()); err != nil {
		t.Fatal(err)
	}
	for i, rec := range []struct{ reporter, rule, side string }{
		{"lab", "value-in-range", dataproduct.SidePublish},
		{"lab", "value-in-range", dataproduct.SidePublish},
		{"sched", "value-in-range", dataproduct.SideConsume},
		{"billing", "unit-set", dataproduct.SideConsume},
	} {
		m := nats.NewMsg(dataproduct.ViolationSubject(rec.reporter, d.GetName(), rec.rule, rec.side))
		m.Header.Set(dataproduct.HeaderViolationEvent, "e"+string(rune('0'+i)))
		if _, err := e.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	code, body := e.get(t, "/products/lab.readings.v1")
	for _, want := range []string{
		`data-rule="value-in-range"`, "event.value &gt;= 0.0 &amp;&amp; event.value &lt;= 100.0", "<td>reject</td>", "<td>accuracy</td>",
		`<td class="violations-publish">2</td>`, `<td class="violations-consume">1 <span class="muted">(sched: 1)</span></td>`,
		`data-rule="unit-set"`, `<td class="violations-publish">0</td><td class="violations-consume">1 <span class="muted">(billing: 1)</span>`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("product page (%d) lacks %q", code, want)
		}
	}
}

func jetstreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: dataproduct.ViolationStream, Subjects: []string{dataproduct.ViolationPrefix + ">"}}
}
