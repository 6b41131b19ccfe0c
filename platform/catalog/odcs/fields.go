package odcs

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
)

// payload is the schema object of the payload message.
func payload(p *schema.Payload, rs []*platformv1.QualityRule) Object {
	md := p.Message
	return Object{
		Quality:      quality(rs),
		Name:         string(md.Name()),
		PhysicalName: string(md.FullName()),
		PhysicalType: "protobuf message",
		LogicalType:  "object",
		Description:  comment(md),
		Properties:   properties(md, map[protoreflect.FullName]bool{md.FullName(): true}),
	}
}

// properties are md's fields; onPath holds the messages being expanded, so a recursive
// message is expanded once per path.
func properties(md protoreflect.MessageDescriptor, onPath map[protoreflect.FullName]bool) []Property {
	fields := md.Fields()
	out := make([]Property, 0, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		prop := element(fd, onPath)
		if fd.IsList() {
			items := prop
			prop = Property{LogicalType: "array", PhysicalType: "repeated " + items.PhysicalType, Items: &items}
		}
		if fd.IsMap() {
			prop = Property{LogicalType: "object", PhysicalType: "map<" + fd.MapKey().Kind().String() + ", " + element(fd.MapValue(), onPath).PhysicalType + ">"}
		}
		prop.Name = string(fd.Name())
		prop.Description = comment(fd)
		prop.Required = fd.Cardinality() == protoreflect.Required
		if c := schema.EffectiveClassification(fd); c != platformv1.Classification_CLASSIFICATION_UNSPECIFIED {
			prop.Classification = classification(c)
		}
		if marked, _ := schema.PII(fd); marked {
			prop.CustomProperties = append(prop.CustomProperties, CustomProperty{"pii", true})
		}
		out = append(out, prop)
	}
	return out
}

// wrappers maps the well-known wrapper messages to their scalar's logical type.
var wrappers = map[protoreflect.FullName]string{
	"google.protobuf.StringValue": "string", "google.protobuf.BytesValue": "string",
	"google.protobuf.BoolValue":  "boolean",
	"google.protobuf.Int32Value": "integer", "google.protobuf.Int64Value": "integer",
	"google.protobuf.UInt32Value": "integer", "google.protobuf.UInt64Value": "integer",
	"google.protobuf.FloatValue": "number", "google.protobuf.DoubleValue": "number",
}

// element is the property of one value of fd (an element, for a repeated field).
func element(fd protoreflect.FieldDescriptor, onPath map[protoreflect.FullName]bool) Property {
	kind := fd.Kind()
	p := Property{PhysicalType: kind.String()}
	switch kind {
	case protoreflect.StringKind:
		p.LogicalType = "string"
	case protoreflect.BytesKind:
		p.LogicalType, p.LogicalTypeOptions = "string", map[string]any{"format": "byte"}
	case protoreflect.BoolKind:
		p.LogicalType = "boolean"
	case protoreflect.FloatKind:
		p.LogicalType, p.LogicalTypeOptions = "number", map[string]any{"format": "f32"}
	case protoreflect.DoubleKind:
		p.LogicalType, p.LogicalTypeOptions = "number", map[string]any{"format": "f64"}
	case protoreflect.EnumKind:
		p.LogicalType, p.PhysicalType = "string", "enum "+string(fd.Enum().FullName())
		var names []string
		for i := range fd.Enum().Values().Len() {
			names = append(names, string(fd.Enum().Values().Get(i).Name()))
		}
		p.CustomProperties = []CustomProperty{{"enumValues", names}}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		p.PhysicalType = string(md.FullName())
		switch name := md.FullName(); {
		case name == "google.protobuf.Timestamp":
			p.LogicalType = "date"
		case name == "google.protobuf.Duration":
			p.LogicalType, p.LogicalTypeOptions = "string", map[string]any{"format": "duration"}
		case wrappers[name] != "":
			p.LogicalType = wrappers[name]
		default:
			p.LogicalType = "object"
			if !onPath[name] && !md.IsMapEntry() {
				onPath[name] = true
				p.Properties = properties(md, onPath)
				delete(onPath, name)
			}
		}
	default: // the integer kinds
		p.LogicalType = "integer"
	}
	return p
}

// comment is d's leading source comment, if the schema kept source info.
func comment(d protoreflect.Descriptor) string {
	return strings.TrimSpace(d.ParentFile().SourceLocations().ByDescriptor(d).LeadingComments)
}
