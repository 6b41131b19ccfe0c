// Package catalogtest builds data-product descriptors with hand-made schemas for the
// catalog's tests, so a test can add, drop or retype payload fields at will.
//
//	d := catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...)
//	d2 := catalogtest.Descriptor("lab.readings.v1", append(catalogtest.BaseFields, catalogtest.Field{Name: "note", Number: 4, Type: catalogtest.String})...)
package catalogtest

import (
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// Field types used by the tests.
const (
	String = descriptorpb.FieldDescriptorProto_TYPE_STRING
	Double = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	Int32  = descriptorpb.FieldDescriptorProto_TYPE_INT32
)

// Field is a proto3 scalar field of a hand-built payload.
type Field struct {
	Name   string
	Number int32
	Type   descriptorpb.FieldDescriptorProto_Type
	// PII marks the field (mesh.platform.v1.pii) = true.
	PII bool
}

// BaseFields is a reading: machine_id, value, unit.
var BaseFields = []Field{{Name: "machine_id", Number: 1, Type: String}, {Name: "value", Number: 2, Type: Double}, {Name: "unit", Number: 3, Type: String}}

// Descriptor returns a descriptor for product id ("<domain>.<product>.v<major>") that passes
// governance: payload message Payload in package mesh.<domain>.v<major> with fields,
// INTERNAL (CONFIDENTIAL when a field is PII), a one-minute freshness objective.
func Descriptor(id string, fields ...Field) *platformv1.DataProductDescriptor {
	parts := strings.Split(id, ".")
	domain, product, major := parts[0], parts[1], parts[2]
	pkg := "mesh." + domain + "." + major
	msg := &descriptorpb.DescriptorProto{Name: proto.String("Payload")}
	class := platformv1.Classification_CLASSIFICATION_INTERNAL
	for _, f := range fields {
		fd := &descriptorpb.FieldDescriptorProto{
			Name: proto.String(f.Name), Number: proto.Int32(f.Number), Type: f.Type.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(jsonName(f.Name)),
		}
		if f.PII {
			fd.Options = &descriptorpb.FieldOptions{}
			proto.SetExtension(fd.Options, platformv1.E_Pii, true)
			class = platformv1.Classification_CLASSIFICATION_CONFIDENTIAL
		}
		msg.Field = append(msg.Field, fd)
	}
	file := &descriptorpb.FileDescriptorProto{
		Name: proto.String(strings.ReplaceAll(pkg, ".", "/") + "/" + product + ".proto"), Package: proto.String(pkg),
		Syntax: proto.String("proto3"), MessageType: []*descriptorpb.DescriptorProto{msg},
	}
	var v uint32
	for _, c := range strings.TrimPrefix(major, "v") {
		v = v*10 + uint32(c-'0')
	}
	return &platformv1.DataProductDescriptor{
		Name: id, Domain: domain, Product: product, MajorVersion: v,
		Owner: domain + "-team", Contact: domain + "@example.com",
		Description: "Test events of " + id + " for the catalog's tests.",
		Schema: &platformv1.Schema{
			FileDescriptorSet: &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{file}},
			MessageName:       pkg + ".Payload",
			SchemaRef:         "urn:meshwork:schema:" + id + ":" + pkg + ".Payload",
		},
		Stream:    strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(id)),
		Subjects:  []string{"dp." + id + ".>"},
		Retention: durationpb.New(24 * time.Hour), Classification: class,
		FreshnessObjective: durationpb.New(time.Minute),
	}
}

// jsonName is protoc's default JSON name: lowerCamelCase of the field name.
func jsonName(name string) string {
	var b strings.Builder
	up := false
	for _, r := range name {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
