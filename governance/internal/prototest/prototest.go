// Package prototest builds descriptor protos for tests from short literals, so schemas can be
// written inline without protoc. Messages are proto3; names in type references may be
// relative (protodesc resolves them like protoc does).
package prototest

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// Scalar types, shortened.
const (
	String = descriptorpb.FieldDescriptorProto_TYPE_STRING
	Bytes  = descriptorpb.FieldDescriptorProto_TYPE_BYTES
	Int32  = descriptorpb.FieldDescriptorProto_TYPE_INT32
	Int64  = descriptorpb.FieldDescriptorProto_TYPE_INT64
	Uint32 = descriptorpb.FieldDescriptorProto_TYPE_UINT32
	Double = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	Bool   = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	// MessageType and EnumType need a type name (map values).
	MessageType = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	EnumType    = descriptorpb.FieldDescriptorProto_TYPE_ENUM
)

// Set is a FileDescriptorSet of files.
func Set(files ...*descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorSet {
	return &descriptorpb.FileDescriptorSet{File: files}
}

// File is a proto3 file in package pkg holding messages (enums go inside messages, with
// NestedEnum); imports are file paths.
func File(path, pkg string, imports []string, messages ...*descriptorpb.DescriptorProto) *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{
		Name:        proto.String(path),
		Package:     proto.String(pkg),
		Syntax:      proto.String("proto3"),
		Dependency:  imports,
		MessageType: messages,
	}
}

// Part is something a message holds: a field, a oneof, a map, a nested type, a reservation
// or an option.
type Part func(m *descriptorpb.DescriptorProto)

// Message is a message of parts, in order. Proto3 optional fields get their synthetic
// oneofs after the real ones, as protoc declares them.
func Message(name string, parts ...Part) *descriptorpb.DescriptorProto {
	m := &descriptorpb.DescriptorProto{Name: proto.String(name)}
	for _, p := range parts {
		p(m)
	}
	for _, f := range m.Field {
		if f.GetProto3Optional() && f.OneofIndex == nil {
			f.OneofIndex = proto.Int32(int32(len(m.OneofDecl)))
			m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_" + f.GetName())})
		}
	}
	return m
}

// F adds field f.
func F(f *descriptorpb.FieldDescriptorProto) Part {
	return func(m *descriptorpb.DescriptorProto) { m.Field = append(m.Field, f) }
}

// Oneof adds a oneof called name holding fields.
func Oneof(name string, fields ...*descriptorpb.FieldDescriptorProto) Part {
	return func(m *descriptorpb.DescriptorProto) {
		i := int32(len(m.OneofDecl))
		m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String(name)})
		for _, f := range fields {
			f.OneofIndex = proto.Int32(i)
			m.Field = append(m.Field, f)
		}
	}
}

// Map adds a map field; valueType names the value's message or enum type (MessageType or
// EnumType), or is empty for a scalar value.
func Map(name string, number int32, key, value descriptorpb.FieldDescriptorProto_Type, valueType string) Part {
	return func(m *descriptorpb.DescriptorProto) {
		entry := mapEntryName(name)
		v := Field("value", 2, value)
		if valueType != "" {
			v.TypeName = proto.String(valueType)
		}
		m.NestedType = append(m.NestedType, &descriptorpb.DescriptorProto{
			Name:    proto.String(entry),
			Field:   []*descriptorpb.FieldDescriptorProto{Field("key", 1, key), v},
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
		})
		f := Repeated(MessageField(name, number, entry))
		m.Field = append(m.Field, f)
	}
}

// NestedMessage adds a nested message.
func NestedMessage(n *descriptorpb.DescriptorProto) Part {
	return func(m *descriptorpb.DescriptorProto) { m.NestedType = append(m.NestedType, n) }
}

// NestedEnum adds a nested enum.
func NestedEnum(e *descriptorpb.EnumDescriptorProto) Part {
	return func(m *descriptorpb.DescriptorProto) { m.EnumType = append(m.EnumType, e) }
}

// Reserved reserves field numbers.
func Reserved(numbers ...int32) Part {
	return func(m *descriptorpb.DescriptorProto) {
		for _, n := range numbers {
			m.ReservedRange = append(m.ReservedRange, &descriptorpb.DescriptorProto_ReservedRange{Start: proto.Int32(n), End: proto.Int32(n + 1)})
		}
	}
}

// MessageOption sets (mesh.platform.v1.message_classification) on the message.
func MessageOption(c platformv1.Classification) Part {
	return func(m *descriptorpb.DescriptorProto) {
		if m.Options == nil {
			m.Options = &descriptorpb.MessageOptions{}
		}
		proto.SetExtension(m.Options, platformv1.E_MessageClassification, c)
	}
}

// Field is a singular scalar field.
func Field(name string, number int32, t descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name:   proto.String(name),
		Number: proto.Int32(number),
		Label:  descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:   t.Enum(),
	}
}

// MessageField is a singular field of message type typeName.
func MessageField(name string, number int32, typeName string) *descriptorpb.FieldDescriptorProto {
	f := Field(name, number, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE)
	f.TypeName = proto.String(typeName)
	return f
}

// EnumField is a singular field of enum type typeName.
func EnumField(name string, number int32, typeName string) *descriptorpb.FieldDescriptorProto {
	f := Field(name, number, descriptorpb.FieldDescriptorProto_TYPE_ENUM)
	f.TypeName = proto.String(typeName)
	return f
}

// Repeated makes f repeated.
func Repeated(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
	f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	return f
}

// Optional makes f proto3 optional (explicit presence).
func Optional(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
	f.Proto3Optional = proto.Bool(true)
	return f
}

// JSONName sets f's json_name.
func JSONName(f *descriptorpb.FieldDescriptorProto, name string) *descriptorpb.FieldDescriptorProto {
	f.JsonName = proto.String(name)
	return f
}

// PII sets (mesh.platform.v1.pii) on f.
func PII(f *descriptorpb.FieldDescriptorProto, pii bool) *descriptorpb.FieldDescriptorProto {
	if f.Options == nil {
		f.Options = &descriptorpb.FieldOptions{}
	}
	proto.SetExtension(f.Options, platformv1.E_Pii, pii)
	return f
}

// Classified sets (mesh.platform.v1.classification) on f.
func Classified(f *descriptorpb.FieldDescriptorProto, c platformv1.Classification) *descriptorpb.FieldDescriptorProto {
	if f.Options == nil {
		f.Options = &descriptorpb.FieldOptions{}
	}
	proto.SetExtension(f.Options, platformv1.E_Classification, c)
	return f
}

// Enum is an enum with the given values, in order.
func Enum(name string, values ...EnumValue) *descriptorpb.EnumDescriptorProto {
	e := &descriptorpb.EnumDescriptorProto{Name: proto.String(name)}
	for _, v := range values {
		e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(v.Name), Number: proto.Int32(v.Number)})
	}
	return e
}

// EnumValue is one value of an Enum.
type EnumValue struct {
	Name   string
	Number int32
}

// ReservedEnum reserves numbers of enum e and returns it.
func ReservedEnum(e *descriptorpb.EnumDescriptorProto, numbers ...int32) *descriptorpb.EnumDescriptorProto {
	for _, n := range numbers {
		e.ReservedRange = append(e.ReservedRange, &descriptorpb.EnumDescriptorProto_EnumReservedRange{Start: proto.Int32(n), End: proto.Int32(n)})
	}
	return e
}

// mapEntryName is protoc's entry message name for map field name: "labels" -> "LabelsEntry".
func mapEntryName(name string) string {
	var b []byte
	upper := true
	for i := range len(name) {
		c := name[i]
		switch {
		case c == '_':
			upper = true
		case upper && 'a' <= c && c <= 'z':
			b = append(b, c-'a'+'A')
			upper = false
		default:
			b = append(b, c)
			upper = false
		}
	}
	return string(b) + "Entry"
}
