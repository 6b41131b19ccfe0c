package protosrc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/catalog/protosrc"
)

// kitchenSink exercises what the printer must render, with comments.
const kitchenSink = `// Leading file comment is detached.

syntax = "proto3";

package mesh.lab.v1;

import "google/protobuf/descriptor.proto";
import "google/protobuf/timestamp.proto";
import "mesh/platform/v1/options.proto";

option go_package = "example.com/lab/v1;labv1";
option java_multiple_files = true;

extend google.protobuf.FieldOptions {
  // A label for dashboards.
  string label = 50000;
}

// A reading from one sensor.
message Reading {
  option (mesh.platform.v1.message_classification) = CLASSIFICATION_INTERNAL;

  // Which machine.
  string machine_id = 1;
  double value = 2 [(label) = "Value", deprecated = true];
  optional string note = 3; // free text
  repeated string tags = 4;
  map<string, Sensor> sensors = 5;
  oneof source {
    string gateway = 6;
    Sensor direct = 7;
  }
  string operator_email = 8 [(mesh.platform.v1.pii) = true, (mesh.platform.v1.classification) = CLASSIFICATION_RESTRICTED];
  google.protobuf.Timestamp at = 9 [json_name = "timestamp"];
  Unit unit = 10;
  .mesh.lab.v1.Unit top_unit = 11;
  map<int32, Unit> codes = 12;
  bytes raw = 13;
  reserved 20, 30 to 40, 100 to max;
  reserved "old", "older";

  // A sensor.
  message Sensor {
    string id = 1;
    Kind kind = 2;

    enum Kind {
      KIND_UNSPECIFIED = 0;
      KIND_TEMPERATURE = 1;
    }
  }

  // Shadows the package-level Unit.
  enum Unit {
    UNIT_UNSPECIFIED = 0;
  }
}

enum Unit {
  option allow_alias = true;
  UNIT_UNSPECIFIED = 0;
  UNIT_CELSIUS = 1;
  UNIT_DEGREES = 1 [deprecated = true];
  reserved 5, 10 to 20;
  reserved "UNIT_KELVIN";
}

// Lab readings.
service LabService {
  // Streams readings.
  rpc Watch(stream Reading) returns (stream Reading);
  rpc Get(Reading) returns (Reading) {
    option deprecated = true;
  }
}
`

// legacy is proto2: labels, defaults, groups aside, extension ranges and nested extends.
const legacy = `syntax = "proto2";

package mesh.legacy.v1;

message Old {
  required string id = 1;
  optional int32 count = 2 [default = -3];
  optional double ratio = 3 [default = inf];
  optional string name = 4 [default = "a \"quoted\" name"];
  optional Mode mode = 5 [default = MODE_B];
  optional bytes blob = 6 [default = "\001\377"];
  repeated int32 packed = 7 [packed = true];
  extensions 100 to 199, 1000 to max;

  extend Old {
    optional string tag = 150;
  }
}

enum Mode {
  MODE_A = 1;
  MODE_B = 2;
}
`

// compile compiles the files at paths from srcs, with the standard imports and the
// contracts' files from the process's registry.
func compile(t *testing.T, srcs map[string]string, paths ...string) []protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)},
			protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
				fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
				return protocompile.SearchResult{Desc: fd}, err
			}),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), paths...)
	if err != nil {
		t.Fatalf("compile %v: %v", paths, err)
	}
	out := make([]protoreflect.FileDescriptor, len(files))
	for i, f := range files {
		out[i] = f
	}
	return out
}

// setOf is the set of fds and their transitive imports, imports first.
func setOf(fds ...protoreflect.FileDescriptor) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	for _, fd := range fds {
		add(fd)
	}
	return set
}

// canonical is fd without source info, re-decoded so options compare by value.
func canonical(t *testing.T, fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	t.Helper()
	p := protodesc.ToFileDescriptorProto(fd)
	p.SourceCodeInfo = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	out := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// roundTrip renders the set of fds and compiles the rendered files named in check again,
// requiring descriptors equal to the originals. It returns the rendered sources.
func roundTrip(t *testing.T, fds []protoreflect.FileDescriptor, check ...string) map[string]string {
	t.Helper()
	files, err := protosrc.Render(setOf(fds...))
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string]string{}
	for _, f := range files {
		rendered[f.Path] = f.Source
	}
	srcs := map[string]string{}
	for path, src := range rendered {
		if !strings.HasPrefix(path, "google/protobuf/") {
			srcs[path] = src
		}
	}
	want := map[string]protoreflect.FileDescriptor{}
	var add func(protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		want[fd.Path()] = fd
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
	}
	for _, fd := range fds {
		add(fd)
	}
	for i, got := range compile(t, srcs, check...) {
		w, g := canonical(t, want[check[i]]), canonical(t, got)
		if !proto.Equal(w, g) {
			t.Errorf("%s does not round-trip.\nrendered:\n%s\nwant %v\n got %v", check[i], rendered[check[i]], w, g)
		}
	}
	return rendered
}

func TestRoundTripHandWritten(t *testing.T) {
	t.Parallel()
	srcs := map[string]string{"mesh/lab/v1/lab.proto": kitchenSink, "mesh/legacy/v1/old.proto": legacy}
	fds := compile(t, srcs, "mesh/lab/v1/lab.proto", "mesh/legacy/v1/old.proto")
	out := roundTrip(t, fds, "mesh/lab/v1/lab.proto", "mesh/legacy/v1/old.proto")
	lab := out["mesh/lab/v1/lab.proto"]
	for _, want := range []string{
		"// Leading file comment is detached.\n\nsyntax",
		"// A reading from one sensor.\nmessage Reading {",
		"  // Which machine.\n  string machine_id = 1;",
		"optional string note = 3; // free text",
		"map<string, Sensor> sensors = 5;",
		"oneof source {",
		`string operator_email = 8 [(mesh.platform.v1.pii) = true, (mesh.platform.v1.classification) = CLASSIFICATION_RESTRICTED];`,
		`double value = 2 [deprecated = true, (mesh.lab.v1.label) = "Value"];`,
		"  mesh.lab.v1.Unit top_unit = 11;",
		"reserved 20, 30 to 40, 100 to max;",
		"rpc Watch(stream Reading) returns (stream Reading);",
	} {
		if !strings.Contains(lab, want) {
			t.Errorf("rendered lab.proto lacks %q:\n%s", want, lab)
		}
	}
}

func TestRoundTripContracts(t *testing.T) {
	t.Parallel()
	md := (&platformv1.ProductSummary{}).ProtoReflect().Descriptor()
	fd := md.ParentFile()
	out := roundTrip(t, []protoreflect.FileDescriptor{fd}, "mesh/platform/v1/options.proto", "mesh/platform/v1/dataproduct.proto", "mesh/platform/v1/catalog.proto")
	if !strings.Contains(out["mesh/platform/v1/options.proto"], "extend google.protobuf.FieldOptions {\n  bool pii = 51001;") {
		t.Errorf("options.proto:\n%s", out["mesh/platform/v1/options.proto"])
	}
}

func TestRenderDescriptorProtoParses(t *testing.T) {
	t.Parallel()
	files, err := protosrc.Render(schema.FileDescriptorSet(descriptorpb.File_google_protobuf_descriptor_proto))
	if err != nil {
		t.Fatal(err)
	}
	src := files[0].Source
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"d.proto": src})}}
	if _, err := c.Compile(context.Background(), "d.proto"); err != nil {
		t.Errorf("rendered descriptor.proto does not compile: %v", err)
	}
	for _, want := range []string{`syntax = "proto2";`, "optional bool deprecated = 3 [default = false];", "1000 to max;"} {
		if !strings.Contains(src, want) {
			t.Errorf("rendered descriptor.proto lacks %q", want)
		}
	}
}

func TestRenderRejectsIncompleteSets(t *testing.T) {
	t.Parallel()
	set := schema.FileDescriptorSet((&platformv1.ProductSummary{}).ProtoReflect().Descriptor().ParentFile())
	set.File = set.File[len(set.File)-1:] // catalog.proto without its imports
	if _, err := protosrc.Render(set); err == nil || errors.Is(err, nil) {
		t.Errorf("Render of a set missing imports: %v, want an error", err)
	}
}
