package lint_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/meshctl/lint"
)

// field declares a proto3 field; typeName makes it a message field, pii sets the option.
func field(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, pii *bool) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(name),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	if pii != nil {
		f.Options = &descriptorpb.FieldOptions{}
		proto.SetExtension(f.Options, platformv1.E_Pii, *pii)
	}
	return f
}

// contractsFiles builds a registry with a mesh/ file that has PII problems, imports a file
// outside mesh/ that has some too, and the options file.
func contractsFiles(t *testing.T) *protoregistry.Files {
	t.Helper()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	yes, no := true, false
	vendor := &descriptorpb.FileDescriptorProto{
		Name: proto.String("vendor/contact.proto"), Package: proto.String("vendor.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:  proto.String("Contact"),
			Field: []*descriptorpb.FieldDescriptorProto{field("phone", 1, str, "", nil)},
		}},
	}
	mesh := &descriptorpb.FileDescriptorProto{
		Name: proto.String("mesh/test/v1/test.proto"), Package: proto.String("mesh.test.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"mesh/platform/v1/options.proto", "vendor/contact.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Job"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("job_id", 1, str, "", nil),
					field("engineer", 2, msg, ".mesh.test.v1.Job.Person", nil),
					field("contact", 3, msg, ".vendor.v1.Contact", nil),
					field("reporter_email", 4, str, "", &yes),
					field("server_address", 5, str, "", nil),
				},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name: proto.String("Person"),
					Field: []*descriptorpb.FieldDescriptorProto{
						field("name", 1, str, "", nil),
						field("email", 2, str, "", nil),
						field("phone", 3, str, "", &no),
					},
				}},
			},
			{
				Name:  proto.String("Machine"),
				Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, str, "", nil), field("owner", 2, msg, ".mesh.test.v1.Job.Person", nil)},
			},
		},
	}
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(descriptorpb.File_google_protobuf_descriptor_proto),
		protodesc.ToFileDescriptorProto(platformv1.File_mesh_platform_v1_options_proto),
		vendor, mesh,
	}}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatalf("NewFiles: %v", err)
	}
	return files
}

func TestContractsFindsUnmarkedPersonalFields(t *testing.T) {
	t.Parallel()
	n, findings := lint.Contracts(contractsFiles(t), "mesh/")
	// Job, Job.Person, Machine, plus the options file has no messages.
	if n != 3 {
		t.Errorf("checked %d messages, want 3", n)
	}
	var fields []string
	for _, f := range findings {
		fields = append(fields, f.Field)
		if f.Rule != "DP005" || f.Severity != "error" || f.Source != "mesh/test/v1/test.proto" || f.Message == "" || f.Hint == "" {
			t.Errorf("finding %+v is not a DP005 error from mesh/test/v1/test.proto with message and hint", f)
		}
	}
	// Person.name is personal because Person is a person; Machine.name is not. The vendor
	// file's phone is outside mesh/; reporter_email and Person.phone are marked.
	want := []string{"mesh.test.v1.Job.Person.email", "mesh.test.v1.Job.Person.name"}
	if !slices.Equal(fields, want) {
		t.Errorf("findings on %v, want %v (each once)", fields, want)
	}
	if !lint.HasErrors(findings) {
		t.Error("HasErrors = false, want true")
	}
}

// TestContractsPassToday checks the contracts compiled into this test binary: today's
// contracts must lint clean.
func TestContractsPassToday(t *testing.T) {
	t.Parallel()
	n, findings := lint.Contracts(protoregistry.GlobalFiles, "mesh/")
	if n == 0 {
		t.Fatal("no mesh/ messages in the global registry")
	}
	for _, f := range findings {
		t.Errorf("%s: %s %s %s", f.Source, f.Rule, f.Field, f.Message)
	}
}
