// Package odcs renders a registered data product as an Open Data Contract Standard v3.1.0
// document in YAML (https://bitol-io.github.io/open-data-contract-standard/): the
// fundamentals (id, name, version, status, domain, data product, description), the payload
// schema as an object with properties and the product's quality rules, a NATS JetStream
// server, the team and support channel from the owner and contact, the freshness and
// retention objectives as SLA properties, and roles from the owner and the product's active
// grants. Parse reads such a contract back (any v3 document) as the start of a new product.
//
// Mapping decisions:
//   - version is "<major>.<revision-1>.0": compatible changes within a major are minor
//     versions of the contract.
//   - servers has one entry of type "custom" (ODCS has no NATS type) whose location is the
//     NATS URL, whose stream is the JetStream stream and whose custom properties name the
//     protocol ("nats-jetstream") and subjects.
//   - quality rules are ODCS quality entries of type "custom" with engine "cel", the CEL
//     expression as implementation, the rule id as id and name, the dimension, severity
//     "error" for reject and dead-letter rules and "warning" for count rules, and the policy
//     as a custom property.
//   - roles: the owning domain's "<domain>:owner" (read-write), then one read role per active
//     grant, "<namespace>:reader" (the PII fields only when the grant includes them), approved
//     by the grant's decider.
//   - Payload fields map to logical types: strings and bytes to string, bools to boolean,
//     integers to integer, floats to number, enums to string (values in the enumValues custom
//     property), google.protobuf.Timestamp to date, wrappers to their scalar, repeated fields
//     to array with items, maps and other messages to object (messages with their fields as
//     properties). A PII field has the custom property pii: true and its classification.
package odcs

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/access"
	"meshwork.dev/platform/catalog"
)

// APIVersion is the ODCS version the documents follow.
const APIVersion = "v3.1.0"

// ContentType is the MIME type of a rendered document.
const ContentType = "application/yaml"

// Contract is an ODCS data contract, the subset the catalog fills.
type Contract struct {
	APIVersion        string           `yaml:"apiVersion"`
	Kind              string           `yaml:"kind"`
	ID                string           `yaml:"id"`
	Name              string           `yaml:"name"`
	Version           string           `yaml:"version"`
	Status            string           `yaml:"status"`
	Domain            string           `yaml:"domain"`
	DataProduct       string           `yaml:"dataProduct"`
	Tags              []string         `yaml:"tags,omitempty"`
	Description       Description      `yaml:"description"`
	Schema            []Object         `yaml:"schema"`
	Servers           []Server         `yaml:"servers"`
	Team              *Team            `yaml:"team,omitempty"`
	Roles             []Role           `yaml:"roles,omitempty"`
	Support           []Channel        `yaml:"support,omitempty"`
	SLAProperties     []SLAProperty    `yaml:"slaProperties,omitempty"`
	CustomProperties  []CustomProperty `yaml:"customProperties,omitempty"`
	ContractCreatedTs string           `yaml:"contractCreatedTs,omitempty"`
}

// Description is the contract's high-level description.
type Description struct {
	Purpose     string `yaml:"purpose,omitempty"`
	Usage       string `yaml:"usage,omitempty"`
	Limitations string `yaml:"limitations,omitempty"`
}

// Object is a schema object: the payload message.
type Object struct {
	Name         string     `yaml:"name"`
	PhysicalName string     `yaml:"physicalName"`
	PhysicalType string     `yaml:"physicalType"`
	LogicalType  string     `yaml:"logicalType"`
	Description  string     `yaml:"description,omitempty"`
	Properties   []Property `yaml:"properties"`
	Quality      []Quality  `yaml:"quality,omitempty"`
}

// Property is a schema property: one payload field (or an array's items, without a name).
type Property struct {
	Name               string           `yaml:"name,omitempty"`
	LogicalType        string           `yaml:"logicalType"`
	LogicalTypeOptions map[string]any   `yaml:"logicalTypeOptions,omitempty"`
	PhysicalType       string           `yaml:"physicalType"`
	Description        string           `yaml:"description,omitempty"`
	Required           bool             `yaml:"required,omitempty"`
	Classification     string           `yaml:"classification,omitempty"`
	Items              *Property        `yaml:"items,omitempty"`
	Properties         []Property       `yaml:"properties,omitempty"`
	CustomProperties   []CustomProperty `yaml:"customProperties,omitempty"`
}

// Server is where the data is: the NATS deployment.
type Server struct {
	Server           string           `yaml:"server"`
	Type             string           `yaml:"type"`
	Description      string           `yaml:"description,omitempty"`
	Location         string           `yaml:"location,omitempty"`
	Stream           string           `yaml:"stream,omitempty"`
	Format           string           `yaml:"format"`
	CustomProperties []CustomProperty `yaml:"customProperties,omitempty"`
}

// Team is the owning team (the v3.1 object form).
type Team struct {
	Name    string   `yaml:"name"`
	Members []Member `yaml:"members,omitempty"`
}

// Role is an access role to the data.
type Role struct {
	Role                string           `yaml:"role"`
	Access              string           `yaml:"access,omitempty"`
	Description         string           `yaml:"description,omitempty"`
	FirstLevelApprovers string           `yaml:"firstLevelApprovers,omitempty"`
	CustomProperties    []CustomProperty `yaml:"customProperties,omitempty"`
}

// Quality is a data-quality rule of the payload.
type Quality struct {
	ID               string           `yaml:"id,omitempty"`
	Name             string           `yaml:"name,omitempty"`
	Description      string           `yaml:"description,omitempty"`
	Type             string           `yaml:"type"`
	Dimension        string           `yaml:"dimension,omitempty"`
	Severity         string           `yaml:"severity,omitempty"`
	Engine           string           `yaml:"engine,omitempty"`
	Implementation   string           `yaml:"implementation,omitempty"`
	CustomProperties []CustomProperty `yaml:"customProperties,omitempty"`
}

// Member is a team member (the owning team).
type Member struct {
	Username string `yaml:"username"`
	Role     string `yaml:"role"`
}

// Channel is a support channel.
type Channel struct {
	Channel string `yaml:"channel"`
	URL     string `yaml:"url"`
	Tool    string `yaml:"tool,omitempty"`
	Scope   string `yaml:"scope,omitempty"`
}

// SLAProperty is one service-level objective.
type SLAProperty struct {
	Property string `yaml:"property"`
	Value    int64  `yaml:"value"`
	Unit     string `yaml:"unit"`
	Element  string `yaml:"element,omitempty"`
	Driver   string `yaml:"driver,omitempty"`
}

// CustomProperty is a key and a value.
type CustomProperty struct {
	Property string `yaml:"property"`
	Value    any    `yaml:"value"`
}

// Options says where consumers reach the data.
type Options struct {
	// NATSURL is the NATS server URL consumers connect to (comma-separated for several;
	// the first is the location, all are listed in the servers custom property).
	NATSURL string
	// Grants are the product's access grants; the active approved ones become roles.
	Grants []access.Request
	// Now judges which grants are active (zero: time.Now).
	Now time.Time
}

// Render renders e as an ODCS v3.1.0 YAML document.
func Render(e catalog.Entry, opts Options) ([]byte, error) {
	c, err := Build(e, opts)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("odcs.Render: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("odcs.Render: %w", err)
	}
	return b.Bytes(), nil
}

// Build returns e's contract.
func Build(e catalog.Entry, opts Options) (*Contract, error) {
	d := e.Descriptor
	p, err := schema.Load(d.GetSchema())
	if err != nil {
		return nil, fmt.Errorf("odcs.Build: %s: %w", d.GetName(), err)
	}
	c := &Contract{
		APIVersion:  APIVersion,
		Kind:        "DataContract",
		ID:          d.GetName(),
		Name:        d.GetProduct(),
		Version:     Version(e),
		Status:      "active",
		Domain:      d.GetDomain(),
		DataProduct: d.GetName(),
		Tags:        d.GetTags(),
		Description: Description{Purpose: d.GetDescription(), Usage: usage(d), Limitations: limitations(d)},
		Schema:      []Object{payload(p, d.GetRules())},
		Servers:     []Server{server(d, opts)},
		Team:        &Team{Name: d.GetOwner(), Members: []Member{{Username: d.GetOwner(), Role: "owner"}}},
		Roles:       roles(d, opts),
		CustomProperties: []CustomProperty{
			{"classification", classification(d.GetClassification())},
			{"schemaRef", d.GetSchema().GetSchemaRef()},
			{"revision", e.Revision},
		},
	}
	if !e.RegisteredAt.IsZero() {
		c.ContractCreatedTs = e.RegisteredAt.UTC().Format(time.RFC3339)
	}
	if ch, ok := support(d.GetContact()); ok {
		c.Support = []Channel{ch}
	}
	if f := d.GetFreshnessObjective(); f != nil {
		c.SLAProperties = append(c.SLAProperties, sla("freshness", f.AsDuration(), c.Schema[0].Name))
	}
	if r := d.GetRetention(); r != nil {
		c.SLAProperties = append(c.SLAProperties, sla("retention", r.AsDuration(), ""))
	}
	for _, kv := range []struct {
		key   string
		value []string
	}{{"upstreams", d.GetUpstreams()}, {"servedBy", d.GetServedBy()}, {"piiFields", piiPaths(d)}} {
		if len(kv.value) > 0 {
			c.CustomProperties = append(c.CustomProperties, CustomProperty{kv.key, kv.value})
		}
	}
	return c, nil
}

// Version is e's contract version, "<major>.<revision-1>.0".
func Version(e catalog.Entry) string {
	return fmt.Sprintf("%d.%d.0", e.Descriptor.GetMajorVersion(), max(e.Revision-1, 0))
}

func usage(d *platformv1.DataProductDescriptor) string {
	key := d.GetKeyDescription()
	if key == "" {
		key = "the partition key"
	}
	return fmt.Sprintf("Read the JetStream stream %s (subjects %s; the last token is %s) with a durable pull consumer "+
		"named <your-domain>--%s and explicit acks. Each message is a protobuf %s with CloudEvents headers; "+
		"ce-id is the event id to de-duplicate on.",
		d.GetStream(), strings.Join(d.GetSubjects(), ", "), key, strings.ReplaceAll(d.GetName(), ".", "_"),
		d.GetSchema().GetMessageName())
}

func limitations(d *platformv1.DataProductDescriptor) string {
	s := "Classified " + classification(d.GetClassification()) + "."
	if pii := piiPaths(d); len(pii) > 0 {
		s += " Personal data in " + strings.Join(pii, ", ") + "."
	}
	return s
}

func server(d *platformv1.DataProductDescriptor, opts Options) Server {
	urls := strings.Split(opts.NATSURL, ",")
	s := Server{
		Server: "nats", Type: "custom", Description: "NATS JetStream", Location: strings.TrimSpace(urls[0]), Format: "protobuf",
		Stream: d.GetStream(),
		CustomProperties: []CustomProperty{
			{"protocol", "nats-jetstream"},
			{"stream", d.GetStream()},
			{"subjects", d.GetSubjects()},
		},
	}
	if len(urls) > 1 {
		s.CustomProperties = append(s.CustomProperties, CustomProperty{"servers", urls})
	}
	return s
}

// support turns a contact into a channel: an e-mail address, a URL, or a chat channel.
func support(contact string) (Channel, bool) {
	switch {
	case contact == "":
		return Channel{}, false
	case strings.Contains(contact, "@") && !strings.Contains(contact, "://"):
		return Channel{Channel: contact, URL: "mailto:" + contact, Tool: "email", Scope: "issues"}, true
	}
	if u, err := url.Parse(contact); err == nil && u.Scheme != "" && u.Host != "" {
		return Channel{Channel: contact, URL: contact, Tool: "other", Scope: "issues"}, true
	}
	return Channel{Channel: contact, URL: contact, Tool: "other", Scope: "interactive"}, true
}

// sla expresses d in the largest whole unit of days, hours, minutes and seconds.
func sla(property string, d time.Duration, element string) SLAProperty {
	for _, u := range []struct {
		unit string
		size time.Duration
	}{{"days", 24 * time.Hour}, {"hours", time.Hour}, {"minutes", time.Minute}, {"seconds", time.Second}} {
		if d >= u.size && d%u.size == 0 {
			return SLAProperty{Property: property, Value: int64(d / u.size), Unit: u.unit, Element: element}
		}
	}
	return SLAProperty{Property: property, Value: d.Milliseconds(), Unit: "milliseconds", Element: element}
}

// classification is a classification in lower case, e.g. "internal".
func classification(c platformv1.Classification) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CLASSIFICATION_"))
}

func piiPaths(d *platformv1.DataProductDescriptor) []string {
	var out []string
	for _, f := range d.GetPiiFields() {
		out = append(out, f.GetPath())
	}
	return out
}
