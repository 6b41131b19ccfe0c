package tail_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/meshctl/tail"
)

// TestDecoderMatchesGenerated encodes real generated messages, decodes them with a
// Decoder built only from their FileDescriptorSet, and compares the JSON with the JSON of
// the generated message.
func TestDecoderMatchesGenerated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{
			name: "scalars, enum and timestamp",
			msg: &platformv1.ProductChanged{
				Name: "quality.clean-readings.v1", Domain: "quality", Owner: "quality-team",
				Revision: 3, Kind: platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_UPDATED,
				Classification: platformv1.Classification_CLASSIFICATION_INTERNAL,
				MessageName:    "mesh.quality.v1.CleanReading",
				ChangedAt:      timestamppb.New(timestamppb.Now().AsTime().Truncate(1000)),
			},
		},
		{
			name: "zero values are printed",
			msg:  &platformv1.ProductChanged{Name: "x.y.v1"},
		},
		{
			name: "nested messages, durations, repeated fields and a descriptor set",
			msg: &platformv1.DataProductDescriptor{
				Name: "quality.clean-readings.v1", Tags: []string{"sensors", "clean"},
				Retention: durationpb.New(90 * 60e9),
				Schema: &platformv1.Schema{
					MessageName:       "mesh.platform.v1.ProductChanged",
					FileDescriptorSet: &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{Name: proto.String("a.proto")}}},
				},
				PiiFields: []*platformv1.PiiField{{Path: "owner", MessageName: "mesh.platform.v1.ProductChanged"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := tt.msg.ProtoReflect().Descriptor()
			dec, err := tail.NewDecoder(schema.NewSchema("test.product.v1", md))
			if err != nil {
				t.Fatalf("NewDecoder: %v", err)
			}
			if got, want := dec.MessageName(), string(md.FullName()); got != want {
				t.Errorf("MessageName = %q, want %q", got, want)
			}
			data, err := proto.Marshal(tt.msg)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := dec.JSON(data)
			if err != nil {
				t.Fatalf("JSON: %v", err)
			}
			want, err := tail.MarshalJSON(tt.msg, protoregistry.GlobalTypes)
			if err != nil {
				t.Fatalf("MarshalJSON(generated): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("dynamic JSON\n %s\nwant\n %s", got, want)
			}
			if !json.Valid(got) || bytes.ContainsAny(got, "\n") {
				t.Errorf("JSON %q is not one line of valid JSON", got)
			}
			// The dynamic message is not the generated type: nothing compiled in was used.
			m, err := dec.Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if _, same := m.(*platformv1.ProductChanged); same {
				t.Errorf("Decode returned the generated type %T", m)
			}
		})
	}
}

func TestDecoderZeroValues(t *testing.T) {
	t.Parallel()
	dec, err := tail.NewDecoder(schema.NewSchema("t.p.v1", (&platformv1.ProductChanged{}).ProtoReflect().Descriptor()))
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	got, err := dec.JSON(nil)
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	for _, want := range []string{`"revision":"0"`, `"name":""`, `"kind":"PRODUCT_CHANGE_KIND_UNSPECIFIED"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("JSON of an empty payload %s lacks %s", got, want)
		}
	}
}

func TestDecoderRejectsGarbage(t *testing.T) {
	t.Parallel()
	dec, err := tail.NewDecoder(schema.NewSchema("t.p.v1", (&platformv1.ProductChanged{}).ProtoReflect().Descriptor()))
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	// Field 1 with wire type 2 announcing 100 bytes that are not there.
	_, err = dec.JSON([]byte{0x0a, 100, 'x'})
	if err == nil || !strings.Contains(err.Error(), "mesh.platform.v1.ProductChanged") {
		t.Errorf("JSON(garbage) error = %v, want one naming the payload type", err)
	}
}

func TestNewDecoderErrors(t *testing.T) {
	t.Parallel()
	good := schema.NewSchema("t.p.v1", (&platformv1.ProductChanged{}).ProtoReflect().Descriptor())
	tests := map[string]*platformv1.Schema{
		"no schema":       nil,
		"unknown message": {FileDescriptorSet: good.GetFileDescriptorSet(), MessageName: "mesh.platform.v1.Nope"},
		"missing import":  {FileDescriptorSet: &descriptorpb.FileDescriptorSet{File: good.GetFileDescriptorSet().GetFile()[len(good.GetFileDescriptorSet().GetFile())-1:]}, MessageName: good.GetMessageName()},
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := tail.NewDecoder(s); err == nil {
				t.Error("NewDecoder succeeded, want an error")
			}
		})
	}
}
