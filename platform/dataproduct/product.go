package dataproduct

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/dataproduct/rules"
	"meshwork.dev/platform/errs"
)

// Defaults applied to a Product's zero-valued settings by Provision, Descriptor and the
// publishers and subscribers built from it.
const (
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultReplicas        = 1
)

// Classifications a data product may declare, from least to most sensitive.
const (
	ClassPublic       = "public"
	ClassInternal     = "internal"
	ClassConfidential = "confidential"
	ClassRestricted   = "restricted"
)

// maxReplicas is the largest JetStream replica count.
const maxReplicas = 5

var (
	// kebab is a lowercase kebab-case name: domains, products and consumer domains.
	kebab = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	// productID is <domain>.<product>.v<major>.
	productID = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*\.[a-z][a-z0-9]*(-[a-z0-9]+)*\.v[1-9][0-9]*$`)
)

// Product declares one data product: who owns it, what it carries and how long it is kept.
// A Product is a plain value; declare it once (usually as a package variable of the producing
// domain) and pass it to Provision, NewPublisher and Subscribe. Zero durations and replica
// counts take the Default* values.
type Product struct {
	// Domain is the owning domain, kebab-case (e.g. "quality").
	Domain string
	// Name is the product name within the domain, kebab-case (e.g. "clean-readings").
	Name string
	// Major is the major schema version, ≥ 1; a breaking change is a new Product.
	Major int
	// Owner is the owning team; Contact is how to reach it (e-mail, chat channel).
	Owner, Contact string
	// Description says what one event means, for the catalog.
	Description string
	// Tags are free-form catalog keywords.
	Tags []string
	// Message is a prototype of the payload type (e.g. &qualityv1.CleanReading{}); only its
	// type is used.
	Message proto.Message
	// Classification is one of the Class* values.
	Classification string
	// Retention is how long events are kept (stream MaxAge).
	Retention time.Duration
	// DuplicateWindow is how long event ids are remembered for de-duplication.
	DuplicateWindow time.Duration
	// Freshness is the freshness objective: the longest expected gap between events (0: none).
	Freshness time.Duration
	// Replicas is the stream's replica count (1..5).
	Replicas int
	// Upstreams are the ids of products this one is derived from (lineage).
	Upstreams []string
	// ServedBy are the full names of gRPC services that serve this product's data.
	ServedBy []string
	// KeyDescription says what the subject key is (e.g. "machine id").
	KeyDescription string
	// Rules are the product's data-quality rules (CEL over `event` and `key`), evaluated on
	// publish and on consume with each rule's policy; see package rules.
	Rules []rules.Rule
}

// withDefaults returns p with its zero settings replaced by the defaults.
func (p Product) withDefaults() Product {
	if p.Retention == 0 {
		p.Retention = DefaultRetention
	}
	if p.DuplicateWindow == 0 {
		p.DuplicateWindow = min(DefaultDuplicateWindow, p.Retention)
	}
	if p.Replicas == 0 {
		p.Replicas = StreamReplicas()
	}
	return p
}

// Validate reports every problem with p (after defaults) as one errs.Invalid error with a
// violation per field.
func (p Product) Validate() error {
	const op = "dataproduct.Product.Validate"
	d := p.withDefaults()
	var vs []errs.Violation
	bad := func(field, format string, args ...any) {
		vs = append(vs, errs.Violation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	if !kebab.MatchString(d.Domain) {
		bad("Domain", "%q is not a kebab-case name", d.Domain)
	}
	if !kebab.MatchString(d.Name) {
		bad("Name", "%q is not a kebab-case name", d.Name)
	}
	if d.Major < 1 {
		bad("Major", "must be at least 1, got %d", d.Major)
	}
	if strings.TrimSpace(d.Owner) == "" {
		bad("Owner", "is required")
	}
	if d.Message == nil {
		bad("Message", "a prototype of the payload message is required")
	}
	switch d.Classification {
	case ClassPublic, ClassInternal, ClassConfidential, ClassRestricted:
	default:
		bad("Classification", "%q is not one of public, internal, confidential, restricted", d.Classification)
	}
	if d.Retention < 0 {
		bad("Retention", "must not be negative")
	}
	if d.DuplicateWindow < 0 || d.DuplicateWindow > d.Retention {
		bad("DuplicateWindow", "must be between 0 and Retention (%s), got %s", d.Retention, d.DuplicateWindow)
	}
	if d.Freshness < 0 {
		bad("Freshness", "must not be negative")
	}
	if d.Replicas < 1 || d.Replicas > maxReplicas {
		bad("Replicas", "must be between 1 and %d, got %d", maxReplicas, d.Replicas)
	}
	for i, t := range d.Tags {
		if strings.TrimSpace(t) == "" {
			bad("Tags["+strconv.Itoa(i)+"]", "must not be blank")
		}
	}
	for i, u := range d.Upstreams {
		if !productID.MatchString(u) {
			bad("Upstreams["+strconv.Itoa(i)+"]", "%q is not a product id <domain>.<product>.v<major>", u)
		}
	}
	for i, s := range d.ServedBy {
		if s == "" || strings.ContainsAny(s, " \t/") {
			bad("ServedBy["+strconv.Itoa(i)+"]", "%q is not a full gRPC service name", s)
		}
	}
	if len(d.Rules) > 0 && d.Message != nil {
		if _, err := rules.Compile(d.Message, d.Rules); err != nil {
			vs = append(vs, errs.Violations(err)...)
		}
	}
	if len(vs) > 0 {
		return errs.BadRequest(op, vs...)
	}
	return nil
}

// ID is the product id, <domain>.<name>.v<major> (e.g. quality.clean-readings.v1).
func (p Product) ID() string {
	return p.Domain + "." + p.Name + ".v" + strconv.Itoa(p.Major)
}

// StreamName is the JetStream stream holding the product: the id in upper case with dots and
// dashes turned into underscores (e.g. QUALITY_CLEAN_READINGS_V1).
func (p Product) StreamName() string {
	return StreamNameOf(p.ID())
}

// StreamNameOf is the stream of the product with id <domain>.<name>.v<major>: the id in
// upper case with dots and dashes turned into underscores.
func StreamNameOf(id string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(id))
}

// subjectPrefix is "dp.<id>." — every subject of the product starts with it.
func (p Product) subjectPrefix() string {
	return "dp." + p.ID() + "."
}

// Subject is the subject one key's events are published on: dp.<domain>.<name>.v<major>.<key>.
// The key must be a single NATS subject token (see ValidKey).
func (p Product) Subject(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", errs.Wrap("dataproduct.Product.Subject", err)
	}
	return p.subjectPrefix() + key, nil
}

// SubjectFilter matches every key of the product: dp.<domain>.<name>.v<major>.>.
func (p Product) SubjectFilter() string {
	return p.subjectPrefix() + ">"
}

// DurableName is the durable consumer a consumer domain reads the product with:
// <consumer-domain>--<product id with dots as underscores>, e.g.
// scheduling--quality_machine-health_v1. NATS consumer names may not contain dots, so the
// architecture's <consumer-domain>--<product> is spelled with underscores; the double dash
// cannot occur inside a kebab-case name, so the name still splits unambiguously.
func (p Product) DurableName(consumerDomain string) string {
	return DurableNameOf(consumerDomain, p.ID())
}

// DurableNameOf is consumerDomain's durable consumer of the product with id productID.
func DurableNameOf(consumerDomain, productID string) string {
	return consumerDomain + "--" + strings.ReplaceAll(productID, ".", "_")
}

// DeadLetterSubject is where consumerDomain's poison messages of this product go:
// dlq.<consumer-domain>.<domain>.<name>.v<major>. It is captured by the DEADLETTER stream.
func (p Product) DeadLetterSubject(consumerDomain string) string {
	return DeadLetterPrefix + consumerDomain + "." + p.ID()
}

// SchemaRef is the catalog's reference to the product's schema, sent as ce-dataschema:
// urn:meshwork:schema:<product id>:<full message name>. It is empty without a Message.
func (p Product) SchemaRef() string {
	if p.Message == nil {
		return ""
	}
	return schema.Ref(p.ID(), p.messageName())
}

// messageName is the full protobuf name of the payload type (the ce-type).
func (p Product) messageName() string {
	if p.Message == nil {
		return ""
	}
	return string(p.Message.ProtoReflect().Descriptor().FullName())
}

// ValidKey reports whether key can be a subject key: one non-empty NATS token of printable
// ASCII without spaces, dots or wildcards.
func ValidKey(key string) error {
	if key == "" {
		return errs.BadRequest("dataproduct.ValidKey", errs.Violation{Field: "key", Description: "must not be empty"})
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return errs.BadRequest("dataproduct.ValidKey", errs.Violation{
				Field:       "key",
				Description: fmt.Sprintf("%q is not a single subject token (no spaces, dots, wildcards or control characters)", key),
			})
		}
	}
	return nil
}

// Streams returns the stream names of products, for a connection that manages them
// (service.ConnectNATS).
func Streams(products ...Product) []string {
	out := make([]string, len(products))
	for i, p := range products {
		out[i] = p.StreamName()
	}
	return out
}
