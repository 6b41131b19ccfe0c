package dataproduct

import (
	"google.golang.org/protobuf/types/known/durationpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/dataproduct/rules"
)

// classifications maps the Class* values to the contract's enum.
var classifications = map[string]platformv1.Classification{
	ClassPublic:       platformv1.Classification_CLASSIFICATION_PUBLIC,
	ClassInternal:     platformv1.Classification_CLASSIFICATION_INTERNAL,
	ClassConfidential: platformv1.Classification_CLASSIFICATION_CONFIDENTIAL,
	ClassRestricted:   platformv1.Classification_CLASSIFICATION_RESTRICTED,
}

// Descriptor is p as the catalog registers it (after defaults): names, ownership, the
// stream, the schema — the payload's file with all its transitive dependencies, so the
// catalog can decode events without having the Go types — and the PII fields found in the
// schema's `(mesh.platform.v1.pii)` field options. Call Validate first: Descriptor describes
// whatever it is given.
func (p Product) Descriptor() *platformv1.DataProductDescriptor {
	d := p.withDefaults()
	desc := &platformv1.DataProductDescriptor{
		Name:           d.ID(),
		Domain:         d.Domain,
		Product:        d.Name,
		MajorVersion:   uint32(max(d.Major, 0)),
		Owner:          d.Owner,
		Contact:        d.Contact,
		Description:    d.Description,
		Tags:           d.Tags,
		Stream:         d.StreamName(),
		Subjects:       []string{d.SubjectFilter()},
		KeyDescription: d.KeyDescription,
		Retention:      durationpb.New(d.Retention),
		Replicas:       int32(d.Replicas),
		Classification: classifications[d.Classification],
		Upstreams:      d.Upstreams,
		ServedBy:       d.ServedBy,
	}
	if len(d.Rules) > 0 {
		desc.Rules = rules.ToProto(d.Rules)
	}
	if d.DuplicateWindow > 0 {
		desc.DuplicateWindow = durationpb.New(d.DuplicateWindow)
	}
	if d.Freshness > 0 {
		desc.FreshnessObjective = durationpb.New(d.Freshness)
	}
	if d.Message != nil {
		desc.Schema = schema.NewSchema(d.ID(), d.Message.ProtoReflect().Descriptor())
		// The set was just built from linked Go types, so it always loads.
		if payload, err := schema.Load(desc.Schema); err == nil {
			desc.PiiFields = payload.PIIFields()
		}
	}
	return desc
}
