package schema

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// PII reports the field's (mesh.platform.v1.pii) option: marked is its value and set says
// whether the option is present at all, so an explicit "pii = false" (a reviewed decision
// that the field is not personal data) can be told from a forgotten marking.
func PII(fd protoreflect.FieldDescriptor) (marked, set bool) {
	v, ok := option(fd.Options(), platformv1.E_Pii)
	if !ok {
		return false, false
	}
	return v.(bool), true
}

// FieldClassification is the field's own (mesh.platform.v1.classification) option, or
// UNSPECIFIED when it has none.
func FieldClassification(fd protoreflect.FieldDescriptor) platformv1.Classification {
	v, ok := option(fd.Options(), platformv1.E_Classification)
	if !ok {
		return platformv1.Classification_CLASSIFICATION_UNSPECIFIED
	}
	return v.(platformv1.Classification)
}

// MessageClassification is the message's (mesh.platform.v1.message_classification) option,
// the default classification of its fields, or UNSPECIFIED when it has none.
func MessageClassification(md protoreflect.MessageDescriptor) platformv1.Classification {
	v, ok := option(md.Options(), platformv1.E_MessageClassification)
	if !ok {
		return platformv1.Classification_CLASSIFICATION_UNSPECIFIED
	}
	return v.(platformv1.Classification)
}

// EffectiveClassification is the field's own classification, or else the default of the
// message declaring it.
func EffectiveClassification(fd protoreflect.FieldDescriptor) platformv1.Classification {
	if c := FieldClassification(fd); c != platformv1.Classification_CLASSIFICATION_UNSPECIFIED {
		return c
	}
	if md, ok := fd.Parent().(protoreflect.MessageDescriptor); ok {
		return MessageClassification(md)
	}
	return platformv1.Classification_CLASSIFICATION_UNSPECIFIED
}

// PIIFields lists the reachable fields marked (mesh.platform.v1.pii) = true, in the form the
// catalog stores in a descriptor's pii_fields.
// A field without its own classification carries its message's default.
func (p *Payload) PIIFields() []*platformv1.PiiField {
	var out []*platformv1.PiiField
	for _, f := range p.Fields() {
		if marked, _ := PII(f.Desc); !marked {
			continue
		}
		out = append(out, &platformv1.PiiField{
			Path:           f.Path,
			MessageName:    string(f.Desc.ContainingMessage().FullName()),
			Classification: EffectiveClassification(f.Desc),
		})
	}
	return out
}

// option reads extension xt from opts. Options decoded without the Meshwork extensions
// registered keep them as unknown fields; those are re-decoded against the global registry
// (which holds them, since this package imports platformv1), so a descriptor set that
// travelled as bytes reads the same as one built from generated code.
func option(opts proto.Message, xt protoreflect.ExtensionType) (any, bool) {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil, false
	}
	if proto.HasExtension(opts, xt) {
		return proto.GetExtension(opts, xt), true
	}
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		return nil, false
	}
	b, err := proto.Marshal(opts)
	if err != nil {
		return nil, false
	}
	fresh := opts.ProtoReflect().New().Interface()
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(b, fresh); err != nil {
		return nil, false
	}
	if !proto.HasExtension(fresh, xt) {
		return nil, false
	}
	return proto.GetExtension(fresh, xt), true
}
