package compat

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// differ walks the old schema from the payload, matching each message and enum with the
// new schema's type of the same full name, and collects breaking changes.
type differ struct {
	newFiles *protoregistry.Files
	// seen holds the old full names already queued, so shared and recursive types are
	// compared once.
	seen map[protoreflect.FullName]bool
	// gone holds the old types already reported renamed, so each is reported once.
	gone map[protoreflect.FullName]bool
	// todo holds the type pairs still to compare, in the order they were reached.
	todo    []func()
	changes []Change
}

func (d *differ) add(k Kind, path, format string, args ...any) {
	d.changes = append(d.changes, Change{Kind: k, Path: path, Description: fmt.Sprintf(format, args...)})
}

// messages compares payload message o with n, then every type reachable from them.
func (d *differ) messages(o, n protoreflect.MessageDescriptor) {
	d.seen[o.FullName()] = true
	d.todo = append(d.todo, func() { d.message(o, n) })
	for len(d.todo) > 0 {
		next := d.todo[0]
		d.todo = d.todo[1:]
		next()
	}
}

// message compares the fields of o and n, matched by number.
func (d *differ) message(o, n protoreflect.MessageDescriptor) {
	of, nf := o.Fields(), n.Fields()
	for i := range of.Len() {
		f := of.Get(i)
		path := string(f.FullName())
		g := nf.ByNumber(f.Number())
		moved := nf.ByName(f.Name())
		renumbered := moved != nil && moved.Number() != f.Number()
		if renumbered {
			d.add(FieldRenumbered, path, "field %s renumbered from %d to %d", f.Name(), f.Number(), moved.Number())
		}
		switch {
		case g == nil:
			if !renumbered && !n.ReservedRanges().Has(f.Number()) {
				d.add(FieldRemoved, path, "field %s = %d removed without reserving its number", f.Name(), f.Number())
			}
			continue
		case g.Name() != f.Name():
			if renumbered {
				continue // the number now belongs to another field; the renumbering says it
			}
			d.add(FieldRenamed, path, "field number %d renamed from %s to %s", f.Number(), f.Name(), g.Name())
		case g.JSONName() != f.JSONName():
			d.add(FieldRenamed, path, "field %s json name changed from %s to %s", f.Name(), f.JSONName(), g.JSONName())
		}
		d.field(path, f, g)
	}
}

// field compares old field f with new field g of the same number.
func (d *differ) field(path string, f, g protoreflect.FieldDescriptor) {
	switch {
	case f.IsMap() != g.IsMap():
		d.add(FieldCardinalityChanged, path, "field changed from %s to %s", typeName(f), typeName(g))
		return
	case f.IsMap():
		d.typ(path+"[key]", f.MapKey(), g.MapKey())
		d.typ(path+"[value]", f.MapValue(), g.MapValue())
		return
	case f.Cardinality() != g.Cardinality():
		d.add(FieldCardinalityChanged, path, "field changed from %s to %s", cardinality(f), cardinality(g))
	}
	if oo, no := oneofName(f), oneofName(g); oo != no {
		d.add(OneofChanged, path, "field moved from %s to %s", oo, no)
	} else if !f.IsList() && !g.IsList() && f.HasPresence() && !g.HasPresence() {
		d.add(FieldPresenceLost, path, "field no longer tracks presence (optional removed)")
	}
	d.typ(path, f, g)
}

// typ compares the types of f and g (fields, or map keys and values), queueing message and
// enum types of the same name for comparison.
func (d *differ) typ(path string, f, g protoreflect.FieldDescriptor) {
	if f.Kind() != g.Kind() {
		d.add(FieldTypeChanged, path, "type changed from %s to %s", typeName(f), typeName(g))
		return
	}
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		om, nm := f.Message(), g.Message()
		if om.FullName() != nm.FullName() {
			d.retyped(path, f, g, om.FullName())
			return
		}
		if !d.seen[om.FullName()] {
			d.seen[om.FullName()] = true
			d.todo = append(d.todo, func() { d.message(om, nm) })
		}
	case protoreflect.EnumKind:
		oe, ne := f.Enum(), g.Enum()
		if oe.FullName() != ne.FullName() {
			d.retyped(path, f, g, oe.FullName())
			return
		}
		if !d.seen[oe.FullName()] {
			d.seen[oe.FullName()] = true
			d.todo = append(d.todo, func() { d.enum(oe, ne) })
		}
	}
}

// retyped reports a field now of another message or enum type: a rename of the old type
// (once per type) when it is gone from the new schema, a type change otherwise.
func (d *differ) retyped(path string, f, g protoreflect.FieldDescriptor, old protoreflect.FullName) {
	if _, err := d.newFiles.FindDescriptorByName(old); err != nil {
		if d.gone[old] {
			return
		}
		d.gone[old] = true
		d.add(TypeRenamed, string(old), "%s is gone from the schema (%s now has type %s)", old, path, typeName(g))
		return
	}
	d.add(FieldTypeChanged, path, "type changed from %s to %s", typeName(f), typeName(g))
}

// enum compares the values of o and n, matched by name, then by number.
func (d *differ) enum(o, n protoreflect.EnumDescriptor) {
	ov, nv := o.Values(), n.Values()
	for i := range ov.Len() {
		v := ov.Get(i)
		path := string(o.FullName()) + "." + string(v.Name())
		if w := nv.ByName(v.Name()); w != nil {
			if w.Number() != v.Number() {
				d.add(EnumValueRenumbered, path, "enum value %s renumbered from %d to %d", v.Name(), v.Number(), w.Number())
			}
			continue
		}
		if w := nv.ByNumber(v.Number()); w != nil {
			d.add(EnumValueRenamed, path, "enum number %d renamed from %s to %s", v.Number(), v.Name(), w.Name())
			continue
		}
		if !n.ReservedRanges().Has(v.Number()) {
			d.add(EnumValueRemoved, path, "enum value %s = %d removed without reserving its number", v.Name(), v.Number())
		}
	}
}

// oneofName is the name of the real (not proto3-optional) oneof holding f, or "no oneof".
func oneofName(f protoreflect.FieldDescriptor) string {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return "oneof " + string(o.Name())
	}
	return "no oneof"
}

// cardinality is "repeated", "required" (proto2) or "singular".
func cardinality(f protoreflect.FieldDescriptor) string {
	switch f.Cardinality() {
	case protoreflect.Repeated:
		return "repeated"
	case protoreflect.Required:
		return "required"
	}
	return "singular"
}

// typeName describes a field's type: "int64", "message mesh.x.v1.Y", "map<string, int32>".
func typeName(f protoreflect.FieldDescriptor) string {
	var t string
	switch {
	case f.IsMap():
		return fmt.Sprintf("map<%s, %s>", typeName(f.MapKey()), typeName(f.MapValue()))
	case f.Message() != nil:
		t = "message " + string(f.Message().FullName())
	case f.Enum() != nil:
		t = "enum " + string(f.Enum().FullName())
	default:
		t = f.Kind().String()
	}
	if f.IsList() {
		t = "repeated " + t
	}
	return t
}
