package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
)

// Entry is one registered product: its current contract and the registration's bookkeeping.
// The Descriptor is shared, read-only: never modify it.
type Entry struct {
	// Descriptor is the registered contract, normalized (see Normalize).
	Descriptor *platformv1.DataProductDescriptor
	// Revision counts the registration's changes, from 1.
	Revision int64
	// Fingerprint identifies the descriptor's content (see Fingerprint).
	Fingerprint string
	// RegisteredAt is the first registration; UpdatedAt the last change.
	RegisteredAt, UpdatedAt time.Time
}

// Name is the product id.
func (e Entry) Name() string { return e.Descriptor.GetName() }

// Summary is the entry's line in a list.
func (e Entry) Summary() Summary {
	d := e.Descriptor
	return Summary{
		Name:           d.GetName(),
		Domain:         d.GetDomain(),
		Owner:          d.GetOwner(),
		Description:    d.GetDescription(),
		Classification: d.GetClassification(),
		HasPII:         len(d.GetPiiFields()) > 0,
		Tags:           d.GetTags(),
		MessageName:    d.GetSchema().GetMessageName(),
		Stream:         d.GetStream(),
		Freshness:      d.GetFreshnessObjective().AsDuration(),
		Revision:       e.Revision,
		UpdatedAt:      e.UpdatedAt,
	}
}

// Summary is what lists show of a product, without its schema.
type Summary struct {
	// Name is the product id; Domain, Owner and Description come from the descriptor.
	Name, Domain, Owner, Description string
	// Classification is the product's classification.
	Classification platformv1.Classification
	// HasPII reports whether any payload field is marked (mesh.platform.v1.pii).
	HasPII bool
	// Tags are the search tags.
	Tags []string
	// MessageName is the payload's full protobuf name.
	MessageName string
	// Stream is the product's JetStream stream.
	Stream string
	// Freshness is the freshness objective (0: none declared).
	Freshness time.Duration
	// Revision is the current revision, UpdatedAt when it was registered.
	Revision  int64
	UpdatedAt time.Time
}

// Normalize returns a copy of d as the catalog stores it: when d lists no pii_fields they are
// computed from the schema's (mesh.platform.v1.pii) options, so the catalog knows every
// product's personal data whether or not the owner listed it. A d whose schema does not load
// is copied unchanged (governance reports the schema).
func Normalize(d *platformv1.DataProductDescriptor) *platformv1.DataProductDescriptor {
	out := proto.CloneOf(d)
	if out == nil {
		out = &platformv1.DataProductDescriptor{}
	}
	if len(out.GetPiiFields()) == 0 {
		if p, err := schema.Load(out.GetSchema()); err == nil {
			out.PiiFields = p.PIIFields()
		}
	}
	return out
}

// Fingerprint identifies d's content: the hex SHA-256 of its deterministic protobuf encoding.
// Two registrations of equal descriptors have equal fingerprints, so a repeated registration is
// recognised as unchanged. The encoding is stable for one build of the catalog; a fingerprint
// that changes across builds only costs one extra revision.
func Fingerprint(d *platformv1.DataProductDescriptor) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
