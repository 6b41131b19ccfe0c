package catalog

import (
	"meshwork.dev/platform/dataproduct/rules"

	"fmt"
	"strings"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/compat"
	"meshwork.dev/governance/rule"
	"meshwork.dev/platform/errs"
)

// ChangeKind says what a registration did.
type ChangeKind int

// Change kinds.
const (
	// Unchanged: the descriptor was already registered as it is.
	Unchanged ChangeKind = iota
	// Registered: the first registration of the name.
	Registered
	// Updated: a compatible change to a registered product.
	Updated
)

// String returns the kind in words.
func (k ChangeKind) String() string {
	switch k {
	case Registered:
		return "registered"
	case Updated:
		return "updated"
	}
	return "unchanged"
}

// Candidate is a descriptor that passed governance, normalized and fingerprinted, ready for
// Decide.
type Candidate struct {
	Descriptor  *platformv1.DataProductDescriptor
	Fingerprint string
	// Warnings are the findings that do not block registration.
	Warnings []rule.Finding
}

// Change is the outcome of a registration.
type Change struct {
	// Entry is the registration after the change (the current one when Kind is Unchanged).
	Entry Entry
	// Kind says what happened.
	Kind ChangeKind
	// Warnings are the governance findings that did not block the registration.
	Warnings []rule.Finding
}

// Changed reports whether the registration created or changed the entry.
func (c Change) Changed() bool { return c.Kind != Unchanged }

// Check normalizes d and runs the governance rules over it. Error findings make it fail with
// an errs.Invalid error carrying one field violation per finding; the field is the request
// path ("descriptor.owner") and the description reads "DP002: <message> (hint: <hint>)".
func Check(d *platformv1.DataProductDescriptor) (Candidate, error) {
	const op = "catalog.Check"
	if d == nil {
		return Candidate{}, errs.BadRequest(op, errs.Violation{Field: "descriptor", Description: "is required"})
	}
	d = Normalize(d)
	var c Candidate
	var violations []errs.Violation
	for _, f := range rule.Check(d) {
		if f.Severity != rule.Error {
			c.Warnings = append(c.Warnings, f)
			continue
		}
		violations = append(violations, errs.Violation{Field: "descriptor." + f.Field, Description: describe(f)})
	}
	if rs := d.GetRules(); len(rs) > 0 && len(violations) == 0 {
		// The schema passed the governance rules, so it loads; the quality rules must
		// compile against it, or every producer and consumer would refuse the product.
		if _, err := rules.CompileSchema(d.GetSchema().GetFileDescriptorSet(), d.GetSchema().GetMessageName(), rules.FromProto(rs)); err != nil {
			for _, v := range errs.Violations(err) {
				violations = append(violations, errs.Violation{Field: "descriptor." + lowerRuleField(v.Field), Description: "quality-rule: " + v.Description})
			}
		}
	}
	if len(violations) > 0 {
		return Candidate{}, &errs.Error{
			Op: op, Kind: errs.Invalid, Violations: violations,
			Msg: fmt.Sprintf("%s breaks %d governance rule(s): %s", d.GetName(), len(violations), ruleIDs(violations)),
		}
	}
	fp, err := Fingerprint(d)
	if err != nil {
		return Candidate{}, errs.Errorf(op, errs.Invalid, "descriptor cannot be encoded: %w", err)
	}
	c.Descriptor, c.Fingerprint = d, fp
	return c, nil
}

// lowerRuleField turns rules.Compile's Rules[i].Expr into the descriptor's rules[i].expression.
func lowerRuleField(f string) string {
	return strings.NewReplacer("Rules[", "rules[", ".ID", ".id", ".Expr", ".expression", ".Policy", ".policy", ".Dimension", ".dimension").Replace(f)
}

// describe renders a finding for a field violation.
func describe(f rule.Finding) string {
	return f.RuleID + ": " + f.Message + " (hint: " + f.Hint + ")"
}

// ruleIDs lists the distinct rule ids at the start of the violations' descriptions.
func ruleIDs(vs []errs.Violation) string {
	var ids []string
	for _, v := range vs {
		id, _, _ := strings.Cut(v.Description, ":")
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ", ")
}

// Decide applies the registration rules to candidate c given the product's current entry
// (nil when the name is new) at time now: unchanged for the same fingerprint, the next
// revision for a compatible change, an errs.FailedPrecondition error wrapping
// *BreakingChanges for a change that breaks consumers of the registered schema.
func Decide(prev *Entry, c Candidate, now time.Time) (Change, error) {
	const op = "catalog.Decide"
	if prev == nil {
		e := Entry{Descriptor: c.Descriptor, Revision: 1, Fingerprint: c.Fingerprint, RegisteredAt: now, UpdatedAt: now}
		return Change{Entry: e, Kind: Registered, Warnings: c.Warnings}, nil
	}
	if prev.Fingerprint == c.Fingerprint {
		return Change{Entry: *prev, Kind: Unchanged, Warnings: c.Warnings}, nil
	}
	if breaking := compat.BreakingWithinMajor(prev.Descriptor, c.Descriptor); len(breaking) > 0 {
		bc := &BreakingChanges{Product: c.Descriptor.GetName(), Major: c.Descriptor.GetMajorVersion(), Changes: breaking}
		msg := fmt.Sprintf("%d breaking schema change(s) within %s", len(breaking), bc.Product)
		return Change{}, &errs.Error{Op: op, Kind: errs.FailedPrecondition, Msg: msg, Err: bc}
	}
	e := Entry{
		Descriptor: c.Descriptor, Revision: prev.Revision + 1, Fingerprint: c.Fingerprint,
		RegisteredAt: prev.RegisteredAt, UpdatedAt: now,
	}
	return Change{Entry: e, Kind: Updated, Warnings: c.Warnings}, nil
}

// BreakingChanges is why a registration was refused: its schema breaks consumers of the
// registered one within the same major version.
type BreakingChanges struct {
	// Product is the product id.
	Product string
	// Major is its major version.
	Major uint32
	// Changes are the DP011 findings: Field is the changed element's path, Message what
	// changed.
	Changes []rule.Finding
}

// Error summarises the changes on one line.
func (b *BreakingChanges) Error() string {
	parts := make([]string, len(b.Changes))
	for i, c := range b.Changes {
		parts[i] = c.Field + ": " + c.Message
	}
	return fmt.Sprintf("%d breaking schema change(s) within %s; make them compatible or publish %s: %s",
		len(b.Changes), b.Product, nextMajor(b.Product, b.Major), strings.Join(parts, "; "))
}

// nextMajor names the product's next major version, e.g. quality.readings.v2.
func nextMajor(id string, major uint32) string {
	if i := strings.LastIndex(id, ".v"); i >= 0 {
		return fmt.Sprintf("%s.v%d", id[:i], major+1)
	}
	return "a new major version"
}
