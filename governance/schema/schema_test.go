package schema_test

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	pt "meshwork.dev/governance/internal/prototest"
	"meshwork.dev/governance/schema"
)

const (
	confidential = platformv1.Classification_CLASSIFICATION_CONFIDENTIAL
	internal     = platformv1.Classification_CLASSIFICATION_INTERNAL
	restricted   = platformv1.Classification_CLASSIFICATION_RESTRICTED
	unspecified  = platformv1.Classification_CLASSIFICATION_UNSPECIFIED
)

// userSet is a small schema: a recursive User with a map of Address messages and a nested enum.
func userSet() *descriptorpb.FileDescriptorSet {
	return pt.Set(pt.File("t/v1/user.proto", "t.v1", nil,
		pt.Message("User",
			pt.MessageOption(internal),
			pt.F(pt.PII(pt.Field("email", 1, pt.String), true)),
			pt.F(pt.Classified(pt.PII(pt.Field("display_name", 2, pt.String), true), restricted)),
			pt.F(pt.MessageField("manager", 3, "User")),
			pt.Map("addresses", 4, pt.String, pt.MessageType, "Address"),
			pt.F(pt.EnumField("role", 5, "Role")),
			pt.F(pt.PII(pt.Field("nickname", 6, pt.String), false)),
			pt.NestedEnum(pt.Enum("Role", pt.EnumValue{Name: "ROLE_UNSPECIFIED"})),
		),
		pt.Message("Address", pt.F(pt.PII(pt.Field("street", 1, pt.String), true))),
	))
}

func TestLoad(t *testing.T) {
	t.Parallel()
	missingImport := userSet()
	missingImport.File[0].Dependency = []string{"t/v1/other.proto"}
	tests := []struct {
		name    string
		schema  *platformv1.Schema
		wantErr error // nil: loads; schema.ErrEmpty or errAny
	}{
		{"loads", &platformv1.Schema{FileDescriptorSet: userSet(), MessageName: "t.v1.User"}, nil},
		{"nil schema", nil, schema.ErrEmpty},
		{"no files", &platformv1.Schema{FileDescriptorSet: pt.Set(), MessageName: "t.v1.User"}, schema.ErrEmpty},
		{"no message name", &platformv1.Schema{FileDescriptorSet: userSet()}, schema.ErrEmpty},
		{"unknown message", &platformv1.Schema{FileDescriptorSet: userSet(), MessageName: "t.v1.Nobody"}, protoregistry.NotFound},
		{"enum, not message", &platformv1.Schema{FileDescriptorSet: userSet(), MessageName: "t.v1.User.Role"}, errAny},
		{"missing import", &platformv1.Schema{FileDescriptorSet: missingImport, MessageName: "t.v1.User"}, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := schema.Load(tt.schema)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.wantErr == nil && p.Message.FullName() != "t.v1.User":
				t.Fatalf("Load: message %s, want t.v1.User", p.Message.FullName())
			case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("Load: error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

var errAny = errors.New("any error")

func loadUser(t *testing.T) *schema.Payload {
	t.Helper()
	p, err := schema.Load(&platformv1.Schema{FileDescriptorSet: userSet(), MessageName: "t.v1.User"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func TestFieldsWalksEachMessageOnce(t *testing.T) {
	t.Parallel()
	var got []string
	for _, f := range loadUser(t).Fields() {
		got = append(got, f.Path+"<"+f.Parent)
	}
	want := []string{
		"email<", "display_name<", "manager<", "addresses<", "role<", "nickname<",
		"addresses.key<addresses", "addresses.value<addresses",
		"addresses.value.street<value",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Fields paths\n got %q\nwant %q", got, want)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	p := loadUser(t)
	byPath := map[string]schema.Field{}
	for _, f := range p.Fields() {
		byPath[f.Path] = f
	}
	tests := []struct {
		path           string
		pii, set       bool
		own, effective platformv1.Classification
	}{
		{"email", true, true, unspecified, internal},
		{"display_name", true, true, restricted, restricted},
		{"manager", false, false, unspecified, internal},
		{"nickname", false, true, unspecified, internal},
		{"addresses.value.street", true, true, unspecified, unspecified},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			fd := byPath[tt.path].Desc
			if pii, set := schema.PII(fd); pii != tt.pii || set != tt.set {
				t.Errorf("PII = %v, %v; want %v, %v", pii, set, tt.pii, tt.set)
			}
			if c := schema.FieldClassification(fd); c != tt.own {
				t.Errorf("FieldClassification = %s, want %s", c, tt.own)
			}
			if c := schema.EffectiveClassification(fd); c != tt.effective {
				t.Errorf("EffectiveClassification = %s, want %s", c, tt.effective)
			}
		})
	}
}

// TestOptionsFromBytes checks a set that travelled as bytes and was decoded without the
// Meshwork extensions registered still reads its options.
func TestOptionsFromBytes(t *testing.T) {
	t.Parallel()
	b, err := proto.Marshal(userSet())
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(b, set); err != nil {
		t.Fatal(err)
	}
	opts := set.GetFile()[0].GetMessageType()[0].GetField()[0].GetOptions()
	if proto.HasExtension(opts, platformv1.E_Pii) || len(opts.ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("test setup: pii option should be an unknown field")
	}
	p, err := schema.Load(&platformv1.Schema{FileDescriptorSet: set, MessageName: "t.v1.User"})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.PIIFields()); got != 3 {
		t.Fatalf("PIIFields from bytes: %d fields, want 3", got)
	}
	if c := schema.MessageClassification(p.Message); c != internal {
		t.Fatalf("MessageClassification from bytes = %s, want INTERNAL", c)
	}
}

func TestPIIFields(t *testing.T) {
	t.Parallel()
	got := loadUser(t).PIIFields()
	want := []*platformv1.PiiField{
		{Path: "email", MessageName: "t.v1.User", Classification: internal}, // the message default
		{Path: "display_name", MessageName: "t.v1.User", Classification: restricted},
		{Path: "addresses.value.street", MessageName: "t.v1.Address"},
	}
	if !slices.EqualFunc(got, want, func(a, b *platformv1.PiiField) bool { return proto.Equal(a, b) }) {
		t.Fatalf("PIIFields\n got %v\nwant %v", got, want)
	}
}

func TestNewSchemaFromGeneratedCode(t *testing.T) {
	t.Parallel()
	md := (&platformv1.ProductSummary{}).ProtoReflect().Descriptor()
	s := schema.NewSchema("platform.product-summaries.v1", md)
	if want := "urn:meshwork:schema:platform.product-summaries.v1:mesh.platform.v1.ProductSummary"; s.GetSchemaRef() != want {
		t.Errorf("SchemaRef = %q, want %q", s.GetSchemaRef(), want)
	}
	var paths []string
	for _, f := range s.GetFileDescriptorSet().GetFile() {
		paths = append(paths, f.GetName())
	}
	last := paths[len(paths)-1]
	if last != "mesh/platform/v1/catalog.proto" {
		t.Errorf("last file %q, want the payload's own file after its imports: %q", last, paths)
	}
	for _, dep := range []string{"google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto", "mesh/platform/v1/options.proto", "mesh/platform/v1/dataproduct.proto"} {
		if !slices.Contains(paths, dep) {
			t.Errorf("set lacks %s: %q", dep, paths)
		}
	}
	p, err := schema.Load(s)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if p.Message.FullName() != md.FullName() {
		t.Fatalf("payload %s, want %s", p.Message.FullName(), md.FullName())
	}
}

func TestAtLeast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c, min platformv1.Classification
		want   bool
	}{
		{confidential, internal, true},
		{confidential, confidential, true},
		{internal, confidential, false},
		{restricted, confidential, true},
		{unspecified, internal, false},
		{internal, unspecified, true},
		{platformv1.Classification(99), unspecified, false},
	}
	for _, tt := range tests {
		if got := schema.AtLeast(tt.c, tt.min); got != tt.want {
			t.Errorf("AtLeast(%s, %s) = %v, want %v", tt.c, tt.min, got, tt.want)
		}
	}
}
