package rules_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/dataproduct/rules"
	"meshwork.dev/platform/errs"
)

var declared = []rules.Rule{
	{ID: "value-in-range", Description: "value within -50..150", Expr: "event.value >= -50.0 && event.value <= 150.0", Policy: rules.Reject, Dimension: "accuracy"},
	{ID: "machine-required", Expr: `event.machine_id != ""`, Policy: rules.DeadLetter, Dimension: "completeness"},
	{ID: "key-is-machine", Expr: "key == event.machine_id", Policy: rules.Count, Dimension: "consistency"},
	{ID: "sampled-set", Expr: "has(event.sampled_at) && event.sampled_at > timestamp('2000-01-01T00:00:00Z')", Policy: rules.Count},
}

func reading(machine string, value float64) *qualityv1.CleanReading {
	return &qualityv1.CleanReading{MachineId: machine, SensorId: "s1", Value: value, SampledAt: timestamppb.Now()}
}

func ids(vs []rules.Violation) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule.ID)
	}
	return strings.Join(out, ",")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	set, err := rules.Compile(&qualityv1.CleanReading{}, declared)
	if err != nil {
		t.Fatal(err)
	}
	noTime := reading("m1", 1)
	noTime.SampledAt = nil
	for _, tc := range []struct {
		name string
		msg  *qualityv1.CleanReading
		key  string
		want string
	}{
		{"passes", reading("m1", 20), "m1", ""},
		{"out of range", reading("m1", 400), "m1", "value-in-range"},
		{"no machine", reading("", 20), "m1", "machine-required,key-is-machine"},
		{"wrong key", reading("m1", 20), "m2", "key-is-machine"},
		{"no time", noTime, "m1", "sampled-set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ids(set.Check(tc.msg, tc.key)); got != tc.want {
				t.Fatalf("violations %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCheckDynamic runs the same rules on a dynamic message decoded from the descriptor set,
// as the catalog and meshctl do.
func TestCheckDynamic(t *testing.T) {
	t.Parallel()
	md := (&qualityv1.CleanReading{}).ProtoReflect().Descriptor()
	fds := fileSet(md.ParentFile())
	set, err := rules.CompileSchema(fds, string(md.FullName()), declared)
	if err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(fds)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName(md.FullName())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := proto.Marshal(reading("", 400))
	msg := dynamicpb.NewMessage(d.(protoreflect.MessageDescriptor))
	if err := proto.Unmarshal(data, msg); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(set.Check(msg, "m1")), "value-in-range,machine-required,key-is-machine"; got != want {
		t.Fatalf("violations %q, want %q", got, want)
	}
}

func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		rule  rules.Rule
		field string
	}{
		{"bad id", rules.Rule{ID: "Bad_ID", Expr: "true", Policy: rules.Count}, "Rules[0].ID"},
		{"no policy", rules.Rule{ID: "a", Expr: "true"}, "Rules[0].Policy"},
		{"bad dimension", rules.Rule{ID: "a", Expr: "true", Policy: rules.Count, Dimension: "vibes"}, "Rules[0].Dimension"},
		{"unknown field", rules.Rule{ID: "a", Expr: "event.celsius > 1.0", Policy: rules.Count}, "Rules[0].Expr"},
		{"not bool", rules.Rule{ID: "a", Expr: "event.value", Policy: rules.Count}, "Rules[0].Expr"},
		{"empty", rules.Rule{ID: "a", Policy: rules.Count}, "Rules[0].Expr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := rules.Compile(&qualityv1.CleanReading{}, []rules.Rule{tc.rule})
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want Invalid", err)
			}
			vs := errs.Violations(err)
			if len(vs) != 1 || vs[0].Field != tc.field {
				t.Fatalf("violations %+v, want one on %s", vs, tc.field)
			}
		})
	}
	_, err := rules.Compile(&qualityv1.CleanReading{}, []rules.Rule{{ID: "a", Expr: "true", Policy: rules.Count}, {ID: "a", Expr: "true", Policy: rules.Count}})
	if vs := errs.Violations(err); len(vs) != 1 || vs[0].Field != "Rules[1].ID" {
		t.Fatalf("duplicate id: %v", err)
	}
}

func TestProtoRoundTrip(t *testing.T) {
	t.Parallel()
	back := rules.FromProto(rules.ToProto(declared))
	for i := range declared {
		if back[i] != declared[i] {
			t.Fatalf("rule %d: %+v, want %+v", i, back[i], declared[i])
		}
	}
}

// fileSet is fd with its transitive dependencies, dependencies first.
func fileSet(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(fd)
	return set
}
