package rule_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"meshwork.dev/governance/rule"
)

var update = flag.Bool("update", false, "rewrite the rule table in ../README.md")

func TestRuleTable(t *testing.T) {
	t.Parallel()
	rules := rule.Rules()
	if len(rules) == 0 {
		t.Fatal("no rules")
	}
	for i, r := range rules {
		if want := fmt.Sprintf("DP%03d", i+1); r.ID != want {
			t.Errorf("rule %d has id %q, want %q (ids are sequential and stable)", i, r.ID, want)
		}
		if r.Summary == "" || r.Hint == "" || strings.Contains(r.Summary, "\n") || strings.Contains(r.Hint, "\n") {
			t.Errorf("%s: summary and hint must be one non-empty line each", r.ID)
		}
		got, ok := rule.Lookup(r.ID)
		if !ok || got.ID != r.ID || got.Hint != r.Hint {
			t.Errorf("Lookup(%q) = %+v, %v", r.ID, got, ok)
		}
	}
	if _, ok := rule.Lookup("DP999"); ok {
		t.Error("Lookup(DP999) found a rule")
	}
	if r, _ := rule.Lookup("DP011"); !r.Pairwise {
		t.Error("DP011 must be pairwise")
	}
}

// TestREADME keeps the rule table in governance/README.md generated from the code:
// run `go test ./rule -run TestREADME -update` after changing a rule.
func TestREADME(t *testing.T) {
	t.Parallel()
	const path, begin, end = "../README.md", "<!-- rules:begin -->\n", "<!-- rules:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q ... %q markers", path, begin, end)
	}
	want := doc[:i+len(begin)] + rule.Markdown() + doc[j:]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s: rule table is stale; run go test ./rule -run TestREADME -update", path)
}
