package protosrc

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// resolver finds extensions in the process's registry first, then among those the rendered
// set declares.
type resolver struct {
	local *dynamicpb.Types
}

// FindExtensionByName implements protoregistry.ExtensionTypeResolver.
func (r resolver) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := protoregistry.GlobalTypes.FindExtensionByName(field); err == nil {
		return xt, nil
	}
	return r.local.FindExtensionByName(field)
}

// FindExtensionByNumber implements protoregistry.ExtensionTypeResolver.
func (r resolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := protoregistry.GlobalTypes.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return r.local.FindExtensionByNumber(message, field)
}

// options renders the set fields of an options message as "name = value" (custom options
// as "(full.name) = value"), ordered by field number; a repeated option gives one entry per
// element. Options whose extension is unknown everywhere are left out.
func (p *printer) options(opts proto.Message) []string {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	m := p.decode(opts).ProtoReflect()
	type set struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []set
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.FullName() != "google.protobuf.MessageOptions.map_entry" { // implied by map<K, V>
			fields = append(fields, set{fd, v})
		}
		return true
	})
	slices.SortFunc(fields, func(a, b set) int { return int(a.fd.Number()) - int(b.fd.Number()) })
	var out []string
	for _, f := range fields {
		name := string(f.fd.Name())
		if f.fd.IsExtension() {
			name = "(" + string(f.fd.FullName()) + ")"
		}
		if f.fd.IsList() {
			l := f.v.List()
			for i := range l.Len() {
				out = append(out, name+" = "+value(f.fd, l.Get(i)))
			}
			continue
		}
		out = append(out, name+" = "+value(f.fd, f.v))
	}
	return out
}

// decode re-reads opts with the resolver, so extensions kept as unknown bytes become fields.
func (p *printer) decode(opts proto.Message) proto.Message {
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		return opts
	}
	b, err := proto.Marshal(opts)
	if err != nil {
		return opts
	}
	fresh := opts.ProtoReflect().New().Interface()
	if err := (proto.UnmarshalOptions{Resolver: p.res}).Unmarshal(b, fresh); err != nil {
		return opts
	}
	return fresh
}

// value renders one option value in .proto syntax.
func value(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return strconv.Quote(string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return float(v.Float())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		text := prototext.MarshalOptions{}.Format(v.Message().Interface())
		return "{ " + strings.TrimSpace(text) + " }"
	}
	return v.String()
}

// defaultValue renders a proto2 default.
func defaultValue(fd protoreflect.FieldDescriptor) string {
	if fd.Kind() == protoreflect.EnumKind {
		return string(fd.DefaultEnumValue().Name())
	}
	return value(fd, fd.Default())
}

// float renders a floating-point literal: inf, -inf and nan by name.
func float(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
