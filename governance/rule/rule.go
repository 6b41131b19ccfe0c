// Package rule is Meshwork's data product policy as code. Each rule has a stable id (DP001,
// DP002, ...), a one-line summary and a fix hint; Check runs every rule over one
// DataProductDescriptor and returns what it finds. The catalog runs it at registration and
// `meshctl lint` runs it offline; Markdown renders the rule table for the docs.
//
// Rules only read the descriptor passed in (its schema included): no I/O, no global state
// beyond the generated Meshwork option extensions.
package rule

import (
	"fmt"
	"slices"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
)

// Severity says whether a finding blocks registration (Error) or is advice (Warning).
type Severity string

// Severities.
const (
	// Error findings make the catalog refuse the registration.
	Error Severity = "error"
	// Warning findings are reported but do not block.
	Warning Severity = "warning"
)

// Finding is one rule violation.
type Finding struct {
	// RuleID is the id of the rule that found it, e.g. "DP001".
	RuleID string
	// Severity is Error or Warning.
	Severity Severity
	// Field says what the finding is about: a descriptor field by proto name
	// ("owner", "subjects[1]", "schema.schema_ref"), a payload field as "payload.<path>"
	// ("payload.user.email"), or, for DP011, a schema element's full name.
	Field string
	// Message says what is wrong, with the offending and the expected values.
	Message string
	// Hint says how to fix it.
	Hint string
}

// String renders the finding on one line, as meshctl lint prints it.
func (f Finding) String() string {
	return fmt.Sprintf("%s %s %s: %s (hint: %s)", f.RuleID, f.Severity, f.Field, f.Message, f.Hint)
}

// HasErrors reports whether any finding has Error severity.
func HasErrors(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Severity == Error })
}

// Rule is one entry of the rule table.
type Rule struct {
	// ID is stable: it never changes meaning and is never reused.
	ID string
	// Summary is a one-line description of what the rule requires.
	Summary string
	// Hint says how to fix a violation.
	Hint string
	// Pairwise rules compare a registration with the previous one of the same product and
	// are not run by Check (DP011 is run by compat.BreakingWithinMajor).
	Pairwise bool

	check func(*subject) []Finding
}

// Rules returns the rule table in id order.
func Rules() []Rule { return slices.Clone(table) }

// Lookup returns the rule with the given id.
func Lookup(id string) (Rule, bool) {
	i := slices.IndexFunc(table, func(r Rule) bool { return r.ID == id })
	if i < 0 {
		return Rule{}, false
	}
	return table[i], true
}

// Check runs every single-descriptor rule over d and returns the findings in rule order.
// A nil d is checked as an empty descriptor. No findings means d passes.
func Check(d *platformv1.DataProductDescriptor) []Finding {
	s := newSubject(d)
	var out []Finding
	for _, r := range table {
		if r.check == nil {
			continue
		}
		for _, f := range r.check(s) {
			f.RuleID = r.ID
			f.Hint = r.Hint
			if f.Severity == "" {
				f.Severity = Error
			}
			out = append(out, f)
		}
	}
	return out
}

// subject is a descriptor with what several rules derive from it, computed once.
type subject struct {
	d *platformv1.DataProductDescriptor
	// name is the parsed product id; nameErr is set when d.name does not parse.
	name    Name
	nameErr error
	// payload is the loaded schema; schemaErr is set when it does not load.
	payload   *schema.Payload
	schemaErr error
	fields    []schema.Field
}

func newSubject(d *platformv1.DataProductDescriptor) *subject {
	if d == nil {
		d = &platformv1.DataProductDescriptor{}
	}
	s := &subject{d: d}
	s.name, s.nameErr = ParseName(d.GetName())
	s.payload, s.schemaErr = schema.Load(d.GetSchema())
	if s.schemaErr == nil {
		s.fields = s.payload.Fields()
	}
	return s
}

// errorf returns an Error finding; Check fills in the rule id and hint.
func errorf(field, format string, args ...any) Finding {
	return Finding{Severity: Error, Field: field, Message: fmt.Sprintf(format, args...)}
}

// warnf returns a Warning finding; Check fills in the rule id and hint.
func warnf(field, format string, args ...any) Finding {
	return Finding{Severity: Warning, Field: field, Message: fmt.Sprintf(format, args...)}
}
