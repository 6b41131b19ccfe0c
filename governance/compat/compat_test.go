package compat_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/compat"
	pt "meshwork.dev/governance/internal/prototest"
	"meshwork.dev/governance/schema"
)

const payload = "mesh.quality.v1.CleanReading"

// base is the old payload file:
//
//	message CleanReading {
//	  string machine_id = 1; double value = 2; Sensor.Kind kind = 3; Sensor sensor = 4;
//	  repeated string tags = 5; map<string, Sensor> by_slot = 6;
//	  oneof source { string gateway = 8; string mqtt_topic = 9; }
//	  int64 seq = 10; optional double min = 7;
//	}
//	message Sensor { string id = 1; Kind kind = 2; Sensor parent = 3; enum Kind {...} }
func base() *descriptorpb.FileDescriptorProto {
	return pt.File("mesh/quality/v1/readings.proto", "mesh.quality.v1", nil,
		pt.Message("CleanReading",
			pt.F(pt.Field("machine_id", 1, pt.String)),
			pt.F(pt.Field("value", 2, pt.Double)),
			pt.F(pt.EnumField("kind", 3, "Sensor.Kind")),
			pt.F(pt.MessageField("sensor", 4, "Sensor")),
			pt.F(pt.Repeated(pt.Field("tags", 5, pt.String))),
			pt.Map("by_slot", 6, pt.String, pt.MessageType, "Sensor"),
			pt.Oneof("source", pt.Field("gateway", 8, pt.String), pt.Field("mqtt_topic", 9, pt.String)),
			pt.F(pt.Field("seq", 10, pt.Int64)),
			pt.F(pt.Optional(pt.Field("min", 7, pt.Double))),
		),
		pt.Message("Sensor",
			pt.F(pt.Field("id", 1, pt.String)),
			pt.F(pt.EnumField("kind", 2, "Kind")),
			pt.F(pt.MessageField("parent", 3, "Sensor")),
			pt.NestedEnum(pt.Enum("Kind",
				pt.EnumValue{Name: "KIND_UNSPECIFIED"},
				pt.EnumValue{Name: "KIND_TEMPERATURE", Number: 1},
				pt.EnumValue{Name: "KIND_VIBRATION", Number: 2})),
		),
		pt.Message("Machine", pt.F(pt.Field("id", 1, pt.String))),
	)
}

func sch(f *descriptorpb.FileDescriptorProto, message string) *platformv1.Schema {
	return &platformv1.Schema{FileDescriptorSet: pt.Set(f), MessageName: message}
}

func msg(f *descriptorpb.FileDescriptorProto, name string) *descriptorpb.DescriptorProto {
	for _, m := range f.MessageType {
		if m.GetName() == name {
			return m
		}
	}
	return nil
}

func field(m *descriptorpb.DescriptorProto, name string) *descriptorpb.FieldDescriptorProto {
	for _, f := range m.Field {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func removeField(m *descriptorpb.DescriptorProto, name string) {
	m.Field = slices.DeleteFunc(m.Field, func(f *descriptorpb.FieldDescriptorProto) bool { return f.GetName() == name })
}

func kindEnum(f *descriptorpb.FileDescriptorProto) *descriptorpb.EnumDescriptorProto {
	return msg(f, "Sensor").EnumType[0]
}

func TestCompare(t *testing.T) {
	t.Parallel()
	reading := func(f *descriptorpb.FileDescriptorProto) *descriptorpb.DescriptorProto { return msg(f, "CleanReading") }
	tests := []struct {
		name string
		edit func(f *descriptorpb.FileDescriptorProto)
		want []string // "<kind> <path>"
	}{
		{"identical", func(*descriptorpb.FileDescriptorProto) {}, nil},
		{"compatible additions", func(f *descriptorpb.FileDescriptorProto) {
			r := reading(f)
			r.Field = append(r.Field, pt.Field("quality", 20, pt.Double), pt.MessageField("machine", 21, "Machine"))
			e := kindEnum(f)
			e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String("KIND_PRESSURE"), Number: proto.Int32(3)})
			f.MessageType = append(f.MessageType, pt.Message("Site", pt.F(pt.Field("code", 1, pt.String))))
			r.NestedType = append(r.NestedType, pt.Message("Note", pt.F(pt.Field("text", 1, pt.String))))
		}, nil},
		{"field gains presence", func(f *descriptorpb.FileDescriptorProto) {
			r := reading(f)
			s := field(r, "seq")
			s.Proto3Optional, s.OneofIndex = proto.Bool(true), proto.Int32(int32(len(r.OneofDecl)))
			r.OneofDecl = append(r.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_seq")})
		}, nil},
		{"removed field with reserved number", func(f *descriptorpb.FileDescriptorProto) {
			removeField(reading(f), "value")
			pt.Reserved(2)(reading(f))
		}, nil},
		{"explicit json_name equal to the default", func(f *descriptorpb.FileDescriptorProto) {
			pt.JSONName(field(reading(f), "machine_id"), "machineId")
		}, nil},
		{"enum value removed with reserved number", func(f *descriptorpb.FileDescriptorProto) {
			e := kindEnum(f)
			e.Value = e.Value[:2]
			pt.ReservedEnum(e, 2)
		}, nil},
		{"pii option added", func(f *descriptorpb.FileDescriptorProto) { pt.PII(field(reading(f), "machine_id"), true) }, nil},

		{"field removed", func(f *descriptorpb.FileDescriptorProto) { removeField(reading(f), "value") },
			[]string{"field-removed mesh.quality.v1.CleanReading.value"}},
		{"field removed, only its name reserved", func(f *descriptorpb.FileDescriptorProto) {
			removeField(reading(f), "value")
			reading(f).ReservedName = []string{"value"}
		}, []string{"field-removed mesh.quality.v1.CleanReading.value"}},
		{"field renumbered", func(f *descriptorpb.FileDescriptorProto) { field(reading(f), "value").Number = proto.Int32(12) },
			[]string{"field-renumbered mesh.quality.v1.CleanReading.value"}},
		{"field numbers swapped", func(f *descriptorpb.FileDescriptorProto) {
			field(reading(f), "machine_id").Number = proto.Int32(2)
			field(reading(f), "value").Number = proto.Int32(1)
		}, []string{"field-renumbered mesh.quality.v1.CleanReading.machine_id", "field-renumbered mesh.quality.v1.CleanReading.value"}},
		{"field renamed", func(f *descriptorpb.FileDescriptorProto) { field(reading(f), "value").Name = proto.String("reading") },
			[]string{"field-renamed mesh.quality.v1.CleanReading.value"}},
		{"json_name changed", func(f *descriptorpb.FileDescriptorProto) { pt.JSONName(field(reading(f), "value"), "v") },
			[]string{"field-renamed mesh.quality.v1.CleanReading.value"}},
		{"scalar kinds changed", func(f *descriptorpb.FileDescriptorProto) {
			field(reading(f), "seq").Type = pt.Int32.Enum()
			field(reading(f), "machine_id").Type = pt.Bytes.Enum()
			field(reading(f), "value").Type = descriptorpb.FieldDescriptorProto_TYPE_FLOAT.Enum()
		}, []string{
			"field-type-changed mesh.quality.v1.CleanReading.machine_id",
			"field-type-changed mesh.quality.v1.CleanReading.value",
			"field-type-changed mesh.quality.v1.CleanReading.seq",
		}},
		{"enum field to int32", func(f *descriptorpb.FileDescriptorProto) {
			k := field(reading(f), "kind")
			k.Type, k.TypeName = pt.Int32.Enum(), nil
		}, []string{"field-type-changed mesh.quality.v1.CleanReading.kind"}},
		{"message type changed", func(f *descriptorpb.FileDescriptorProto) {
			field(reading(f), "sensor").TypeName = proto.String("Machine")
		},
			[]string{"field-type-changed mesh.quality.v1.CleanReading.sensor"}},
		{"nested message renamed", func(f *descriptorpb.FileDescriptorProto) {
			msg(f, "Sensor").Name = proto.String("Probe")
			field(msg(f, "Probe"), "parent").TypeName = proto.String("Probe")
			field(reading(f), "sensor").TypeName = proto.String("Probe")
			field(reading(f), "kind").TypeName = proto.String("Probe.Kind")
			reading(f).NestedType[0].Field[1].TypeName = proto.String("Probe")
		}, []string{"type-renamed mesh.quality.v1.Sensor.Kind", "type-renamed mesh.quality.v1.Sensor"}},
		{"enum type changed", func(f *descriptorpb.FileDescriptorProto) {
			pt.NestedEnum(pt.Enum("Grade", pt.EnumValue{Name: "GRADE_UNSPECIFIED"}))(reading(f))
			field(reading(f), "kind").TypeName = proto.String("Grade")
		}, []string{"field-type-changed mesh.quality.v1.CleanReading.kind"}},
		{"repeated to singular and back", func(f *descriptorpb.FileDescriptorProto) {
			field(reading(f), "tags").Label = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
			pt.Repeated(field(reading(f), "value"))
		}, []string{"field-cardinality-changed mesh.quality.v1.CleanReading.value", "field-cardinality-changed mesh.quality.v1.CleanReading.tags"}},
		{"map to repeated message", func(f *descriptorpb.FileDescriptorProto) {
			r := reading(f)
			r.NestedType = nil
			field(r, "by_slot").TypeName = proto.String("Sensor")
		}, []string{"field-cardinality-changed mesh.quality.v1.CleanReading.by_slot"}},
		{"map key and value types changed", func(f *descriptorpb.FileDescriptorProto) {
			entry := reading(f).NestedType[0]
			entry.Field[0].Type = pt.Int32.Enum()
			entry.Field[1].Type, entry.Field[1].TypeName = pt.String.Enum(), nil
		}, []string{"field-type-changed mesh.quality.v1.CleanReading.by_slot[key]", "field-type-changed mesh.quality.v1.CleanReading.by_slot[value]"}},
		{"presence lost", func(f *descriptorpb.FileDescriptorProto) {
			r := reading(f)
			m := field(r, "min")
			r.OneofDecl = r.OneofDecl[:len(r.OneofDecl)-1]
			m.Proto3Optional, m.OneofIndex = nil, nil
		}, []string{"field-presence-lost mesh.quality.v1.CleanReading.min"}},
		{"field leaves a oneof", func(f *descriptorpb.FileDescriptorProto) { field(reading(f), "mqtt_topic").OneofIndex = nil },
			[]string{"oneof-changed mesh.quality.v1.CleanReading.mqtt_topic"}},
		{"field joins a oneof", func(f *descriptorpb.FileDescriptorProto) { field(reading(f), "seq").OneofIndex = proto.Int32(0) },
			[]string{"oneof-changed mesh.quality.v1.CleanReading.seq"}},
		{"enum value removed", func(f *descriptorpb.FileDescriptorProto) { kindEnum(f).Value = kindEnum(f).Value[:2] },
			[]string{"enum-value-removed mesh.quality.v1.Sensor.Kind.KIND_VIBRATION"}},
		{"enum value renumbered", func(f *descriptorpb.FileDescriptorProto) { kindEnum(f).Value[2].Number = proto.Int32(5) },
			[]string{"enum-value-renumbered mesh.quality.v1.Sensor.Kind.KIND_VIBRATION"}},
		{"enum value renamed", func(f *descriptorpb.FileDescriptorProto) { kindEnum(f).Value[2].Name = proto.String("KIND_VIBE") },
			[]string{"enum-value-renamed mesh.quality.v1.Sensor.Kind.KIND_VIBRATION"}},
		{"change deep in a recursive message", func(f *descriptorpb.FileDescriptorProto) {
			field(msg(f, "Sensor"), "id").Type = pt.Int64.Enum()
		}, []string{"field-type-changed mesh.quality.v1.Sensor.id"}},
		{"message not reachable from the payload", func(f *descriptorpb.FileDescriptorProto) { msg(f, "Machine").Field = nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			after := base()
			tt.edit(after)
			changes, err := compat.Compare(sch(base(), payload), sch(after, payload))
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if got := kinds(changes); !slices.Equal(got, tt.want) {
				t.Fatalf("changes\n got %q\nwant %q\n%s", got, tt.want, lines(changes))
			}
			for _, c := range changes {
				if c.Description == "" {
					t.Errorf("change without description: %+v", c)
				}
			}
		})
	}
}

func TestComparePayload(t *testing.T) {
	t.Parallel()
	renamed := base()
	renamed.MessageType[0].Name = proto.String("Reading")
	tests := []struct {
		name          string
		before, after *platformv1.Schema
		want          []string
		wantErr       bool
	}{
		{"payload renamed", sch(base(), payload), sch(renamed, "mesh.quality.v1.Reading"),
			[]string{"payload-renamed " + payload}, false},
		{"payload renamed, old message kept", sch(base(), payload), sch(base(), "mesh.quality.v1.Machine"),
			slices.Concat([]string{"payload-renamed " + payload, "field-renamed " + payload + ".machine_id"},
				removed("value", "kind", "sensor", "tags", "by_slot", "gateway", "mqtt_topic", "seq", "min")), false},
		{"payload gone", sch(base(), payload), sch(renamed, payload), []string{"payload-gone " + payload}, false},
		{"before unreadable", sch(base(), "mesh.quality.v1.Nope"), sch(base(), payload), nil, true},
		{"before empty", nil, sch(base(), payload), nil, true},
		{"after without files", sch(base(), payload), &platformv1.Schema{MessageName: payload}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			changes, err := compat.Compare(tt.before, tt.after)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Compare error %v, want error %v", err, tt.wantErr)
			}
			if got := kinds(changes); !slices.Equal(got, tt.want) {
				t.Fatalf("changes\n got %q\nwant %q\n%s", got, tt.want, lines(changes))
			}
		})
	}
}

// TestCompareGenerated compares real generated descriptors, with their imports
// (descriptor.proto, duration.proto, the Meshwork options), walking deep into
// google.protobuf.FileDescriptorSet.
func TestCompareGenerated(t *testing.T) {
	t.Parallel()
	const id = "platform.data-products.v1"
	md := (&platformv1.DataProductDescriptor{}).ProtoReflect().Descriptor()
	before := schema.NewSchema(id, md)
	same := schema.NewSchema(id, md)
	if changes, err := compat.Compare(before, same); err != nil || len(changes) != 0 {
		t.Fatalf("Compare(generated, itself) = %v, %v", changes, err)
	}
	after := schema.NewSchema(id, md)
	for _, f := range after.GetFileDescriptorSet().GetFile() {
		if f.GetName() == "google/protobuf/descriptor.proto" {
			for _, m := range f.GetMessageType() {
				if m.GetName() == "FieldDescriptorProto" {
					removeField(m, "json_name")
				}
			}
		}
		if f.GetName() == "mesh/platform/v1/dataproduct.proto" {
			removeField(msg(f, "DataProductDescriptor"), "contact")
		}
	}
	changes, err := compat.Compare(before, after)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"field-removed mesh.platform.v1.DataProductDescriptor.contact",
		"field-removed google.protobuf.FieldDescriptorProto.json_name",
	}
	if got := kinds(changes); !slices.Equal(got, want) {
		t.Fatalf("changes\n got %q\nwant %q", got, want)
	}
}

func TestBreakingWithinMajor(t *testing.T) {
	t.Parallel()
	desc := func(name string, f *descriptorpb.FileDescriptorProto) *platformv1.DataProductDescriptor {
		return &platformv1.DataProductDescriptor{Name: name, Schema: sch(f, payload)}
	}
	dropped := base()
	removeField(dropped.MessageType[0], "value")
	added := base()
	added.MessageType[0].Field = append(added.MessageType[0].Field, pt.Field("quality", 20, pt.Double))
	tests := []struct {
		name          string
		before, after *platformv1.DataProductDescriptor
		want          []string // "<rule> <severity> <field>"
	}{
		{"breaking within v1", desc("quality.clean-readings.v1", base()), desc("quality.clean-readings.v1", dropped),
			[]string{"DP011 error mesh.quality.v1.CleanReading.value"}},
		{"compatible within v1", desc("quality.clean-readings.v1", base()), desc("quality.clean-readings.v1", added), nil},
		{"breaking into v2", desc("quality.clean-readings.v1", base()), desc("quality.clean-readings.v2", dropped), nil},
		{"first registration", nil, desc("quality.clean-readings.v1", dropped), nil},
		{"unreadable new schema", desc("quality.clean-readings.v1", base()), &platformv1.DataProductDescriptor{Name: "quality.clean-readings.v1"},
			[]string{"DP011 error schema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			findings := compat.BreakingWithinMajor(tt.before, tt.after)
			var got []string
			for _, f := range findings {
				got = append(got, f.RuleID+" "+string(f.Severity)+" "+f.Field)
				if f.Message == "" || f.Hint == "" {
					t.Errorf("finding without message or hint: %+v", f)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("findings\n got %q\nwant %q\n%v", got, tt.want, findings)
			}
		})
	}
}

func removed(fields ...string) []string {
	var out []string
	for _, f := range fields {
		out = append(out, "field-removed "+payload+"."+f)
	}
	return out
}

func kinds(cs []compat.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Kind)+" "+c.Path)
	}
	return out
}

func lines(cs []compat.Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.String() + "\n")
	}
	return b.String()
}
