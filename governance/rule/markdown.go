package rule

import (
	"fmt"
	"strings"
)

// Markdown renders the rule table and the DP005 PII heuristics as Markdown, for
// governance/README.md and docs/governance.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| id | rule | how to fix |\n|---|---|---|\n")
	for _, r := range table {
		summary := r.Summary
		if r.Pairwise {
			summary += " (compares with the previous registration: `compat.BreakingWithinMajor`)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.ID, cell(summary), cell(r.Hint))
	}
	b.WriteString("\nDP005 flags a field as personal data when it is not a bool or an enum and\n\n")
	fmt.Fprintf(&b, "- a word of its name (split at `_`) is one of %s;\n", list(piiWords))
	fmt.Fprintf(&b, "- its name contains the consecutive words %s;\n", list(piiPhrases))
	fmt.Fprintf(&b, "- its whole name is %s;\n", list(piiNames))
	fmt.Fprintf(&b, "- its whole name is %s and its message's name (split at case changes) or the field holding it has one of the words %s (plurals too);\n", list(personNames), list(personWords))
	fmt.Fprintf(&b, "- unless its name contains %s.\n", list(notPIIPhrases))
	b.WriteString("\nA flagged field passes once it carries `(mesh.platform.v1.pii) = true`, or `= false` as the record of a review that found it is not personal data.\n")
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func list(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "`" + w + "`"
	}
	return strings.Join(q, ", ")
}
