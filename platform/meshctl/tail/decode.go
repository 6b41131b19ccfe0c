package tail

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
)

// Decoder turns a product's payloads into JSON using only the product's registered schema:
// the message type is built with dynamicpb from the schema's FileDescriptorSet, never taken
// from compiled-in Go types, so meshctl reads products it was not built with.
type Decoder struct {
	msg   protoreflect.MessageType
	types *dynamicpb.Types
}

// NewDecoder builds the payload type named by s from s's files. It fails when the set does
// not load on its own (a missing import) or does not hold the message.
func NewDecoder(s *platformv1.Schema) (*Decoder, error) {
	const op = "tail.NewDecoder"
	p, err := schema.Load(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &Decoder{
		msg:   dynamicpb.NewMessageType(p.Message),
		types: dynamicpb.NewTypes(p.Files),
	}, nil
}

// MessageName is the payload's full protobuf name, the ce-type its events carry.
func (d *Decoder) MessageName() string { return string(d.msg.Descriptor().FullName()) }

// Decode parses a binary payload into a new dynamic message of the payload type.
func (d *Decoder) Decode(data []byte) (proto.Message, error) {
	m := d.msg.New().Interface()
	if err := (proto.UnmarshalOptions{Resolver: d.types}).Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("tail.Decoder.Decode %s: %w", d.MessageName(), err)
	}
	return m, nil
}

// JSON decodes a binary payload and renders it as compact protojson (field json names,
// zero-valued scalars included, so a reading of 0 shows as 0 rather than vanishing).
func (d *Decoder) JSON(data []byte) (json.RawMessage, error) {
	m, err := d.Decode(data)
	if err != nil {
		return nil, err
	}
	return MarshalJSON(m, d.types)
}

// MarshalJSON renders m as protojson the way tail prints payloads, with resolver used for
// google.protobuf.Any contents, and compacts it: protojson's spacing is deliberately
// unstable, one event must stay on one line.
func MarshalJSON(m proto.Message, resolver Resolver) (json.RawMessage, error) {
	b, err := protojson.MarshalOptions{EmitDefaultValues: true, Resolver: resolver}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("tail.MarshalJSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("tail.MarshalJSON: %w", err)
	}
	return out.Bytes(), nil
}

// Resolver finds the message and extension types protojson needs for Any fields and
// extensions; *dynamicpb.Types and protoregistry.GlobalTypes are resolvers.
type Resolver interface {
	protoregistry.ExtensionTypeResolver
	protoregistry.MessageTypeResolver
}
