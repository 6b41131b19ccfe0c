package dataproduct_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
)

// personType builds, at test time, a payload type whose fields carry the contract's pii and
// classification options:
//
//	message Address { string street = 1 [(pii) = true]; string city = 2; }
//	message Person {
//	  option (message_classification) = CONFIDENTIAL;
//	  string email = 1 [(pii) = true, (classification) = RESTRICTED];
//	  string name = 2 [(pii) = true];
//	  string id = 3;
//	  Address home = 4;
//	  repeated Person friends = 5;
//	  google.protobuf.StringValue nickname = 6;
//	}
func personType(t *testing.T) protoreflect.MessageType {
	t.Helper()
	pii := func(class platformv1.Classification) *descriptorpb.FieldOptions {
		o := &descriptorpb.FieldOptions{}
		proto.SetExtension(o, platformv1.E_Pii, true)
		if class != platformv1.Classification_CLASSIFICATION_UNSPECIFIED {
			proto.SetExtension(o, platformv1.E_Classification, class)
		}
		return o
	}
	field := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, opts *descriptorpb.FieldOptions) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(name), Options: opts,
		}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	str, msg := descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	friends := field("friends", 5, msg, ".test.v1.Person", nil)
	friends.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	personOpts := &descriptorpb.MessageOptions{}
	proto.SetExtension(personOpts, platformv1.E_MessageClassification, platformv1.Classification_CLASSIFICATION_CONFIDENTIAL)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("test/v1/person.proto"),
		Package:    proto.String("test.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"mesh/platform/v1/options.proto", "google/protobuf/wrappers.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Address"), Field: []*descriptorpb.FieldDescriptorProto{
				field("street", 1, str, "", pii(0)),
				field("city", 2, str, "", nil),
			}},
			{Name: proto.String("Person"), Options: personOpts, Field: []*descriptorpb.FieldDescriptorProto{
				field("email", 1, str, "", pii(platformv1.Classification_CLASSIFICATION_RESTRICTED)),
				field("name", 2, str, "", pii(0)),
				field("id", 3, str, "", nil),
				field("home", 4, msg, ".test.v1.Address", nil),
				friends,
				field("nickname", 6, msg, ".google.protobuf.StringValue", nil),
			}},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("build test file: %v", err)
	}
	return dynamicpb.NewMessageType(fd.Messages().ByName("Person"))
}

func TestDescriptor(t *testing.T) {
	t.Parallel()
	p := dataproduct.Product{
		Domain: "identity", Name: "people", Major: 2, Owner: "identity-team", Contact: "#identity",
		Description: "people", Tags: []string{"users"}, Message: personType(t).New().Interface(),
		Classification: dataproduct.ClassConfidential, Freshness: time.Minute,
		Upstreams: []string{"identity.users.v1"}, ServedBy: []string{"mesh.identity.v1.IdentityService"},
		KeyDescription: "user id",
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	d := p.Descriptor()
	if d.GetName() != "identity.people.v2" || d.GetDomain() != "identity" || d.GetProduct() != "people" ||
		d.GetMajorVersion() != 2 || d.GetOwner() != "identity-team" || d.GetContact() != "#identity" ||
		d.GetStream() != "IDENTITY_PEOPLE_V2" || !slices.Equal(d.GetSubjects(), []string{"dp.identity.people.v2.>"}) ||
		d.GetKeyDescription() != "user id" || d.GetReplicas() != 1 ||
		d.GetClassification() != platformv1.Classification_CLASSIFICATION_CONFIDENTIAL ||
		d.GetRetention().AsDuration() != dataproduct.DefaultRetention ||
		d.GetDuplicateWindow().AsDuration() != dataproduct.DefaultDuplicateWindow ||
		d.GetFreshnessObjective().AsDuration() != time.Minute ||
		!slices.Equal(d.GetUpstreams(), p.Upstreams) || !slices.Equal(d.GetServedBy(), p.ServedBy) {
		t.Errorf("descriptor = %v", d)
	}
	s := d.GetSchema()
	if s.GetMessageName() != "test.v1.Person" || s.GetSchemaRef() != "urn:meshwork:schema:identity.people.v2:test.v1.Person" {
		t.Errorf("schema name %q ref %q", s.GetMessageName(), s.GetSchemaRef())
	}
	var files []string
	for _, f := range s.GetFileDescriptorSet().GetFile() {
		files = append(files, f.GetName())
	}
	// Dependencies come before the files that import them.
	want := []string{"google/protobuf/descriptor.proto", "mesh/platform/v1/options.proto", "google/protobuf/wrappers.proto", "test/v1/person.proto"}
	if !slices.Equal(files, want) {
		t.Errorf("files = %v, want %v", files, want)
	}
	// The set is self-contained: a catalog can rebuild the payload type from it alone.
	reg, err := protodesc.NewFiles(s.GetFileDescriptorSet())
	if err != nil {
		t.Fatalf("rebuild files: %v", err)
	}
	if _, err := reg.FindDescriptorByName("test.v1.Person"); err != nil {
		t.Errorf("rebuilt set lacks the payload: %v", err)
	}

	type pii struct {
		path, msg string
		class     platformv1.Classification
	}
	var got []pii
	for _, f := range d.GetPiiFields() {
		got = append(got, pii{f.GetPath(), f.GetMessageName(), f.GetClassification()})
	}
	wantPII := []pii{
		{"email", "test.v1.Person", platformv1.Classification_CLASSIFICATION_RESTRICTED},
		{"name", "test.v1.Person", platformv1.Classification_CLASSIFICATION_CONFIDENTIAL},
		{"home.street", "test.v1.Address", platformv1.Classification_CLASSIFICATION_UNSPECIFIED},
	}
	if !slices.Equal(got, wantPII) {
		t.Errorf("pii fields = %v, want %v", got, wantPII)
	}
}

func TestDescriptorWithoutPII(t *testing.T) {
	t.Parallel()
	p := dataproduct.Product{Domain: "quality", Name: "levels", Major: 1, Owner: "q", Message: &wrapperspb.DoubleValue{}, Classification: dataproduct.ClassPublic}
	d := p.Descriptor()
	if len(d.GetPiiFields()) != 0 || d.GetSchema().GetMessageName() != "google.protobuf.DoubleValue" ||
		len(d.GetSchema().GetFileDescriptorSet().GetFile()) != 1 || d.GetFreshnessObjective() != nil {
		t.Errorf("descriptor = %v", d)
	}
}
