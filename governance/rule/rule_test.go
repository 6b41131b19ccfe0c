package rule_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	pt "meshwork.dev/governance/internal/prototest"
	"meshwork.dev/governance/rule"
	"meshwork.dev/governance/schema"
)

const (
	public       = platformv1.Classification_CLASSIFICATION_PUBLIC
	internal     = platformv1.Classification_CLASSIFICATION_INTERNAL
	confidential = platformv1.Classification_CLASSIFICATION_CONFIDENTIAL
	restricted   = platformv1.Classification_CLASSIFICATION_RESTRICTED
)

// readings is the payload file of the valid descriptor, with extra fields appended to
// CleanReading and extra messages to the file.
func readings(pkg string, extra []*descriptorpb.FieldDescriptorProto, more ...*descriptorpb.DescriptorProto) *descriptorpb.FileDescriptorSet {
	parts := []pt.Part{
		pt.F(pt.Field("machine_id", 1, pt.String)),
		pt.F(pt.Field("sensor_id", 2, pt.String)),
		pt.F(pt.Field("value", 3, pt.Double)),
		pt.F(pt.EnumField("unit", 4, "Unit")),
		pt.NestedEnum(pt.Enum("Unit", pt.EnumValue{Name: "UNIT_UNSPECIFIED"}, pt.EnumValue{Name: "UNIT_CELSIUS", Number: 1})),
	}
	for _, f := range extra {
		parts = append(parts, pt.F(f))
	}
	msgs := append([]*descriptorpb.DescriptorProto{pt.Message("CleanReading", parts...)}, more...)
	return pt.Set(pt.File("mesh/quality/v1/readings.proto", pkg, nil, msgs...))
}

// valid is a descriptor that passes every rule.
func valid() *platformv1.DataProductDescriptor {
	return &platformv1.DataProductDescriptor{
		Name:         "quality.clean-readings.v1",
		Domain:       "quality",
		Product:      "clean-readings",
		MajorVersion: 1,
		Owner:        "quality-team",
		Contact:      "quality@meshwork.dev",
		Description:  "Sensor readings with outliers and faulty sensors removed.",
		Schema: &platformv1.Schema{
			FileDescriptorSet: readings("mesh.quality.v1", nil),
			MessageName:       "mesh.quality.v1.CleanReading",
			SchemaRef:         "urn:meshwork:schema:quality.clean-readings.v1:mesh.quality.v1.CleanReading",
		},
		Stream:             "DP_QUALITY_CLEAN_READINGS_V1",
		Subjects:           []string{"dp.quality.clean-readings.v1.>"},
		Classification:     internal,
		FreshnessObjective: durationpb.New(time.Minute),
		Upstreams:          []string{"quality.raw-readings.v1"},
	}
}

// withFields gives d's payload extra fields (and the file extra messages).
func withFields(d *platformv1.DataProductDescriptor, fields []*descriptorpb.FieldDescriptorProto, more ...*descriptorpb.DescriptorProto) {
	d.Schema.FileDescriptorSet = readings("mesh.quality.v1", fields, more...)
}

func pii(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
	return pt.PII(f, true)
}

func fields(fs ...*descriptorpb.FieldDescriptorProto) []*descriptorpb.FieldDescriptorProto { return fs }

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(d *platformv1.DataProductDescriptor)
		want   []string // "<rule> <severity> <field>"
	}{
		{"valid", func(*platformv1.DataProductDescriptor) {}, nil},

		// DP001
		{"name empty", func(d *platformv1.DataProductDescriptor) {
			d.Name = ""
			d.Schema.SchemaRef = schema.Ref("", d.Schema.MessageName)
		},
			[]string{"DP001 error name"}},
		{"name upper-case domain", func(d *platformv1.DataProductDescriptor) { rename(d, "Quality.clean-readings.v1") },
			[]string{"DP001 error name"}},
		{"name snake product", func(d *platformv1.DataProductDescriptor) { rename(d, "quality.clean_readings.v1") },
			[]string{"DP001 error name"}},
		{"name major zero", func(d *platformv1.DataProductDescriptor) { rename(d, "quality.clean-readings.v0") },
			[]string{"DP001 error name"}},
		{"name without major", func(d *platformv1.DataProductDescriptor) { rename(d, "quality.clean-readings") },
			[]string{"DP001 error name"}},
		{"name with double dash", func(d *platformv1.DataProductDescriptor) { rename(d, "quality.clean--readings.v1") },
			[]string{"DP001 error name"}},
		{"fields disagree with name", func(d *platformv1.DataProductDescriptor) { d.Domain, d.Product, d.MajorVersion = "qa", "readings", 2 },
			[]string{"DP001 error domain", "DP001 error product", "DP001 error major_version"}},

		// DP002
		{"owner missing", func(d *platformv1.DataProductDescriptor) { d.Owner = "" }, []string{"DP002 error owner"}},
		{"contact blank", func(d *platformv1.DataProductDescriptor) { d.Contact = "  " }, []string{"DP002 error contact"}},

		// DP003
		{"description missing", func(d *platformv1.DataProductDescriptor) { d.Description = " " }, []string{"DP003 error description"}},
		{"description short", func(d *platformv1.DataProductDescriptor) { d.Description = "readings" }, []string{"DP003 warning description"}},
		{"description 20 chars", func(d *platformv1.DataProductDescriptor) { d.Description = "clean sensor reading" }, nil},

		// DP004
		{"classification unspecified", func(d *platformv1.DataProductDescriptor) { d.Classification = 0 }, []string{"DP004 error classification"}},
		{"classification unknown", func(d *platformv1.DataProductDescriptor) { d.Classification = 9 }, []string{"DP004 error classification"}},
		{"field more sensitive than product", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.Classified(pt.Field("calibration", 10, pt.Bytes), restricted)))
		}, []string{"DP004 error classification"}},
		{"field as sensitive as product", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.Classified(pt.Field("calibration", 10, pt.Bytes), restricted)))
			d.Classification = restricted
		}, nil},
		{"nested message default more sensitive", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.MessageField("site", 10, "Site")),
				pt.Message("Site", pt.MessageOption(confidential), pt.F(pt.Field("code", 1, pt.String))))
		}, []string{"DP004 error classification"}},
		{"public product of internal defaults", func(d *platformv1.DataProductDescriptor) {
			withFields(d, nil, pt.Message("Unused", pt.MessageOption(restricted), pt.F(pt.Field("x", 1, pt.String))))
			d.Classification = public
		}, nil},

		// DP005
		{"pii unmarked", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.Field("operator_email", 10, pt.String)))
		}, []string{"DP005 error payload.operator_email"}},
		{"pii marked but product internal", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pii(pt.Field("operator_email", 10, pt.String))))
		}, []string{"DP005 error classification"}},
		{"pii marked and product confidential", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pii(pt.Field("operator_email", 10, pt.String))))
			d.Classification = confidential
		}, nil},
		{"pii reviewed as not personal", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.PII(pt.Field("site_address", 10, pt.String), false)))
		}, nil},
		{"name inside a person message", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.MessageField("engineer", 10, "ServiceEngineer")),
				pt.Message("ServiceEngineer", pt.F(pt.Field("name", 1, pt.String))))
		}, []string{"DP005 error payload.engineer.name"}},
		{"name inside a field holding a person", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.MessageField("assignee", 10, "Party")),
				pt.Message("Party", pt.F(pt.Field("name", 1, pt.String))))
		}, []string{"DP005 error payload.assignee.name"}},
		{"name of a machine", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pt.MessageField("machine", 10, "Machine")),
				pt.Message("Machine", pt.F(pt.Field("name", 1, pt.String))))
		}, nil},
		{"pii_fields match the schema", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pii(pt.Field("operator_email", 10, pt.String))))
			d.Classification = confidential
			d.PiiFields = []*platformv1.PiiField{{Path: "operator_email", MessageName: "mesh.quality.v1.CleanReading"}}
		}, nil},
		{"pii_fields stale", func(d *platformv1.DataProductDescriptor) {
			withFields(d, fields(pii(pt.Field("operator_email", 10, pt.String))))
			d.Classification = confidential
			d.PiiFields = []*platformv1.PiiField{{Path: "email"}}
		}, []string{"DP005 error pii_fields"}},

		// DP006
		{"freshness missing", func(d *platformv1.DataProductDescriptor) { d.FreshnessObjective = nil }, []string{"DP006 error freshness_objective"}},
		{"freshness zero", func(d *platformv1.DataProductDescriptor) { d.FreshnessObjective = durationpb.New(0) }, []string{"DP006 error freshness_objective"}},
		{"freshness negative", func(d *platformv1.DataProductDescriptor) { d.FreshnessObjective = durationpb.New(-time.Second) }, []string{"DP006 error freshness_objective"}},
		{"freshness invalid", func(d *platformv1.DataProductDescriptor) {
			d.FreshnessObjective = &durationpb.Duration{Seconds: 1, Nanos: -1}
		}, []string{"DP006 error freshness_objective"}},

		// DP007
		{"schema missing", func(d *platformv1.DataProductDescriptor) { d.Schema = nil }, []string{"DP007 error schema"}},
		{"schema without files", func(d *platformv1.DataProductDescriptor) { d.Schema.FileDescriptorSet = nil }, []string{"DP007 error schema.file_descriptor_set"}},
		{"schema missing an import", func(d *platformv1.DataProductDescriptor) {
			d.Schema.FileDescriptorSet.File[0].Dependency = []string{"mesh/quality/v1/sensor.proto"}
		}, []string{"DP007 error schema.file_descriptor_set"}},
		{"schema without message name", func(d *platformv1.DataProductDescriptor) {
			d.Schema.MessageName = ""
			d.Schema.SchemaRef = schema.Ref(d.Name, "")
		}, []string{"DP007 error schema.message_name"}},
		{"schema message not in files", func(d *platformv1.DataProductDescriptor) {
			d.Schema.MessageName = "mesh.quality.v1.RawReading"
			d.Schema.SchemaRef = schema.Ref(d.Name, d.Schema.MessageName)
		}, []string{"DP007 error schema.message_name"}},
		{"schema ref wrong", func(d *platformv1.DataProductDescriptor) {
			d.Schema.SchemaRef = "urn:meshwork:schema:mesh.quality.v1.CleanReading"
		},
			[]string{"DP007 error schema.schema_ref"}},

		// DP008
		{"stream missing", func(d *platformv1.DataProductDescriptor) { d.Stream = "" }, []string{"DP008 error stream"}},
		{"stream with a dot", func(d *platformv1.DataProductDescriptor) { d.Stream = "quality.clean" }, []string{"DP008 error stream"}},
		{"no subjects", func(d *platformv1.DataProductDescriptor) { d.Subjects = nil }, []string{"DP008 error subjects"}},
		{"subjects under the prefix", func(d *platformv1.DataProductDescriptor) {
			d.Subjects = []string{"dp.quality.clean-readings.v1.*", "dp.quality.clean-readings.v1.m-1.>"}
		}, nil},
		{"subjects off the prefix", func(d *platformv1.DataProductDescriptor) {
			d.Subjects = []string{
				"dp.quality.clean-readings.v1.>",
				"dp.quality.clean-readings.v11.>",
				"dp.quality.clean-readings.v1.",
				"dp.quality.clean-readings.v1.>.x",
				"dp.quality.clean-readings.v1.m*",
				"quality.clean-readings.v1.>",
			}
		}, []string{"DP008 error subjects[1]", "DP008 error subjects[2]", "DP008 error subjects[3]", "DP008 error subjects[4]", "DP008 error subjects[5]"}},

		// DP009
		{"upstreams", func(d *platformv1.DataProductDescriptor) {
			d.Upstreams = []string{"quality.raw-readings.v1", "raw-readings", "quality.clean-readings.v1", "quality.raw-readings.v1"}
		}, []string{"DP009 error upstreams[1]", "DP009 error upstreams[2]", "DP009 warning upstreams[3]"}},

		// DP010
		{"payload in another major's package", func(d *platformv1.DataProductDescriptor) {
			d.Schema.FileDescriptorSet = readings("mesh.quality.v2", nil)
			d.Schema.MessageName = "mesh.quality.v2.CleanReading"
			d.Schema.SchemaRef = schema.Ref(d.Name, d.Schema.MessageName)
		}, []string{"DP010 error schema.message_name"}},
		{"payload package v11 for v1", func(d *platformv1.DataProductDescriptor) {
			d.Schema.FileDescriptorSet = readings("mesh.quality.v11", nil)
			d.Schema.MessageName = "mesh.quality.v11.CleanReading"
			d.Schema.SchemaRef = schema.Ref(d.Name, d.Schema.MessageName)
		}, []string{"DP010 error schema.message_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := valid()
			tt.mutate(d)
			findings := rule.Check(d)
			if got := keys(findings); !slices.Equal(got, tt.want) {
				t.Fatalf("Check findings\n got %q\nwant %q\n%s", got, tt.want, lines(findings))
			}
			for _, f := range findings {
				if f.Message == "" || f.Hint == "" {
					t.Errorf("finding without message or hint: %+v", f)
				}
			}
			if rule.HasErrors(findings) != slices.ContainsFunc(tt.want, func(k string) bool { return strings.Contains(k, " error ") }) {
				t.Errorf("HasErrors = %v for %q", rule.HasErrors(findings), tt.want)
			}
		})
	}
}

// rename gives d a new name, keeping schema_ref consistent so only the name rules fire.
func rename(d *platformv1.DataProductDescriptor, name string) {
	d.Name = name
	d.Schema.SchemaRef = schema.Ref(name, d.Schema.MessageName)
}

func keys(fs []rule.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+" "+string(f.Severity)+" "+f.Field)
	}
	return out
}

func lines(fs []rule.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestCheckGeneratedDescriptor runs the rules over a payload taken from generated code, with
// all its real imports (descriptor.proto, timestamp.proto, the Meshwork options).
func TestCheckGeneratedDescriptor(t *testing.T) {
	t.Parallel()
	const id = "platform.product-summaries.v1"
	d := &platformv1.DataProductDescriptor{
		Name:               id,
		Domain:             "platform",
		Product:            "product-summaries",
		MajorVersion:       1,
		Owner:              "platform-team",
		Contact:            "#platform",
		Description:        "One summary per registered data product, as listed by the catalog.",
		Schema:             schema.NewSchema(id, (&platformv1.ProductSummary{}).ProtoReflect().Descriptor()),
		Stream:             "DP_PLATFORM_PRODUCT_SUMMARIES_V1",
		Subjects:           []string{"dp.platform.product-summaries.v1.>"},
		Classification:     internal,
		FreshnessObjective: durationpb.New(time.Hour),
	}
	if fs := rule.Check(d); len(fs) != 0 {
		t.Fatalf("Check of a valid generated descriptor:\n%s", lines(fs))
	}
	b, err := proto.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var again platformv1.DataProductDescriptor
	if err := proto.Unmarshal(b, &again); err != nil {
		t.Fatal(err)
	}
	if fs := rule.Check(&again); len(fs) != 0 {
		t.Fatalf("Check after a round trip through bytes:\n%s", lines(fs))
	}
}

func TestCheckNil(t *testing.T) {
	t.Parallel()
	got := keys(rule.Check(nil))
	want := []string{
		"DP001 error name", "DP002 error owner", "DP002 error contact", "DP003 error description",
		"DP004 error classification", "DP006 error freshness_objective", "DP007 error schema", "DP008 error stream",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Check(nil)\n got %q\nwant %q", got, want)
	}
}

func TestParseName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want rule.Name
		ok   bool
	}{
		{"quality.clean-readings.v1", rule.Name{Domain: "quality", Product: "clean-readings", Major: 1}, true},
		{"h3.cells2.v12", rule.Name{Domain: "h3", Product: "cells2", Major: 12}, true},
		{"quality.clean-readings.v01", rule.Name{}, false},
		{"quality.-readings.v1", rule.Name{}, false},
		{"quality.readings-.v1", rule.Name{}, false},
		{"1quality.readings.v1", rule.Name{}, false},
		{"quality.readings.v99999999999", rule.Name{}, false},
		{"quality.readings.v1.extra", rule.Name{}, false},
	}
	for _, tt := range tests {
		got, err := rule.ParseName(tt.id)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v, ok %v", tt.id, got, err, tt.want, tt.ok)
		}
		if tt.ok && (got.String() != tt.id || got.SubjectPrefix() != "dp."+tt.id+".") {
			t.Errorf("Name %+v: String %q, SubjectPrefix %q", got, got.String(), got.SubjectPrefix())
		}
	}
}
