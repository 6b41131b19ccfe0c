// Package compat decides whether a data product's payload schema changed compatibly between
// two registrations of the same major version. A consumer built against the old schema must
// keep decoding the new payloads, in binary and in JSON, with the same meaning; anything
// else is a breaking change and needs a new major (rule DP011).
//
// Judgement, field by field (matched by number, as the wire does):
//   - removed: breaking unless the number is now reserved (reserving it is the deprecation);
//   - renumbered (same name, new number) and renamed (same number, new name or json_name):
//     breaking; the first breaks the wire, the second JSON consumers;
//   - type changed: any change of kind is breaking, even between wire-compatible kinds
//     (int32→int64 truncates in old readers, string↔bytes and enum↔int change the JSON);
//     so is a different message or enum type, and a changed map key or value type;
//   - cardinality: repeated↔singular, map↔non-map and proto2 required↔optional are breaking;
//   - presence: proto3 optional → plain is breaking (old readers lose "set to zero"), plain →
//     optional is compatible;
//   - oneof: joining, leaving or changing a (real) oneof is breaking, since setting one
//     member clears the others.
//
// Enum values are matched by name then number: removing a value (number not reserved),
// renumbering it, or renaming a number (JSON carries names) is breaking. A message or enum
// reachable from the payload that no longer exists under its full name was renamed (or
// removed): breaking. New fields, enum values, messages and enums change nothing.
package compat

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/rule"
	"meshwork.dev/governance/schema"
)

// Kind names a kind of breaking change.
type Kind string

// Kinds of breaking change.
const (
	// PayloadRenamed: the schema names another payload message (ce-type changes).
	PayloadRenamed Kind = "payload-renamed"
	// PayloadGone: the payload message is not in the new schema.
	PayloadGone Kind = "payload-gone"
	// TypeRenamed: a message or enum reachable from the payload is gone under its full name.
	TypeRenamed Kind = "type-renamed"
	// FieldRemoved: a field number is gone and not reserved.
	FieldRemoved Kind = "field-removed"
	// FieldRenumbered: a field kept its name but changed number.
	FieldRenumbered Kind = "field-renumbered"
	// FieldRenamed: a field number kept changed name or json_name.
	FieldRenamed Kind = "field-renamed"
	// FieldTypeChanged: a field's kind, message type, enum type or map key/value changed.
	FieldTypeChanged Kind = "field-type-changed"
	// FieldCardinalityChanged: repeated↔singular, map↔non-map or required↔optional.
	FieldCardinalityChanged Kind = "field-cardinality-changed"
	// FieldPresenceLost: a field with explicit presence (proto3 optional) lost it.
	FieldPresenceLost Kind = "field-presence-lost"
	// OneofChanged: a field joined, left or moved between oneofs.
	OneofChanged Kind = "oneof-changed"
	// EnumValueRemoved: an enum value is gone and its number not reserved.
	EnumValueRemoved Kind = "enum-value-removed"
	// EnumValueRenumbered: an enum value name now has another number.
	EnumValueRenumbered Kind = "enum-value-renumbered"
	// EnumValueRenamed: an enum number kept is now named differently.
	EnumValueRenamed Kind = "enum-value-renamed"
)

// Change is one breaking change.
type Change struct {
	// Kind is what kind of change it is.
	Kind Kind
	// Path is the full name of the changed element in the old schema, e.g.
	// "mesh.quality.v1.CleanReading.value" or "mesh.quality.v1.Unit.UNIT_CELSIUS".
	Path string
	// Description says what changed, old and new.
	Description string
}

// String renders the change on one line.
func (c Change) String() string { return fmt.Sprintf("%s: %s (%s)", c.Path, c.Description, c.Kind) }

// Compare lists the breaking changes from schema before to schema after, in a stable order:
// the payload first, then each message and enum in the order they are reached from it. No
// changes means every consumer of before can read after. The error reports a schema that
// does not load (either file set, or before's payload message); an after payload message
// missing from its files is a change (PayloadGone).
func Compare(before, after *platformv1.Schema) ([]Change, error) {
	const op = "compat.Compare"
	old, err := schema.Load(before)
	if err != nil {
		return nil, fmt.Errorf("%s: before: %w", op, err)
	}
	newFiles, err := schema.NewFiles(after.GetFileDescriptorSet())
	if err != nil {
		return nil, fmt.Errorf("%s: after: %w", op, err)
	}
	d := &differ{newFiles: newFiles, seen: map[protoreflect.FullName]bool{}, gone: map[protoreflect.FullName]bool{}}
	if before.GetMessageName() != after.GetMessageName() {
		d.add(PayloadRenamed, before.GetMessageName(), "payload message renamed to %s", after.GetMessageName())
	}
	nm, err := schema.Message(newFiles, after.GetMessageName())
	if err != nil {
		d.add(PayloadGone, before.GetMessageName(), "payload message %s is not in the new schema", after.GetMessageName())
		return d.changes, nil
	}
	d.messages(old.Message, nm)
	return d.changes, nil
}

// breakingID is the rule BreakingWithinMajor reports under.
const breakingID = "DP011"

// BreakingWithinMajor returns a DP011 finding for each breaking change from before's schema to
// after's when both register the same product id (hence the same major). Registrations of
// different ids never conflict: a new major may change anything. When a schema cannot be
// compared the single finding says why, so an unreadable schema never passes silently.
func BreakingWithinMajor(before, after *platformv1.DataProductDescriptor) []rule.Finding {
	if before == nil || after == nil || before.GetName() != after.GetName() {
		return nil
	}
	r, _ := rule.Lookup(breakingID)
	finding := func(field, msg string) rule.Finding {
		return rule.Finding{RuleID: r.ID, Severity: rule.Error, Field: field, Message: msg, Hint: r.Hint}
	}
	changes, err := Compare(before.GetSchema(), after.GetSchema())
	if err != nil {
		return []rule.Finding{finding("schema", "cannot compare with the registered schema: "+err.Error())}
	}
	out := make([]rule.Finding, 0, len(changes))
	for _, c := range changes {
		out = append(out, finding(c.Path, fmt.Sprintf("%s within %s (%s)", c.Description, after.GetName(), c.Kind)))
	}
	return out
}
