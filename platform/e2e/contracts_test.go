package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// contracts runs `meshctl contract test` over every product of the running mesh: each live
// stream must keep its registered contract (schema, CloudEvents headers, rules, freshness).
// Volume is not required (--min-events 0): identity's and files' products only carry events
// when someone changes a user or uploads a file.
func (c clients) contracts(t *testing.T, ctx context.Context) {
	t.Helper()
	global := []string{"--catalog", c.mesh.catalogAddr(), "--nats", c.mesh.natsURL(), "--identity", c.identityAddr()}
	args := append(global, append([]string{"contract", "test", "--min-events", "0", "--output", "json"}, products...)...)
	out, err := output(ctx, filepath.Join(c.bin, "meshctl"), args...)
	var doc struct {
		Passed  bool
		Reports []struct {
			Product string
			Events  int
			Passed  bool
			Checks  []struct {
				Name, Summary string
				Passed        bool
				Examples      []string
			}
		}
	}
	// The report is the first JSON value; stderr (the failure line) follows it.
	if jerr := json.NewDecoder(strings.NewReader(out)).Decode(&doc); jerr != nil {
		t.Fatalf("meshctl contract test: %v (exit %v)\n%s", jerr, err, out)
	}
	if len(doc.Reports) != len(products) {
		t.Fatalf("contract test reported %d products, want %d", len(doc.Reports), len(products))
	}
	live := 0
	for _, r := range doc.Reports {
		if r.Events > 0 {
			live++
		}
		for _, ch := range r.Checks {
			if !ch.Passed {
				t.Errorf("contract test %s (%d events): %s failed: %s %v", r.Product, r.Events, ch.Name, ch.Summary, ch.Examples)
			}
		}
	}
	// The sensor simulator feeds quality and the catalog registers: at least those are live.
	if live < 5 {
		t.Errorf("only %d products had events to test", live)
	}
	if err != nil && doc.Passed {
		t.Errorf("meshctl contract test exited %v on a passing report", err)
	}
}
