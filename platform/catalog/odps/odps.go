// Package odps renders data products as an Open Data Product Standard v1.0.0 document in YAML
// (https://bitol-io.github.io/open-data-product-standard/).
//
// Meshwork's data products are streams, each with its contract; an ODPS data product is what a
// team offers through ports. The mapping:
//   - one product id: an ODPS product of that one stream; a domain name: an ODPS product of
//     every product the domain registered (id and name are the domain);
//   - output ports: each product, type "nats-jetstream", with its ODCS contract (contractId is
//     the product id, the contract's id in package odcs; version its contract version) and
//     the products it is derived from as input contracts;
//   - input ports: the products consumed (the outputs' declared upstreams that are not outputs
//     themselves), each with its contract id and, when registered, its contract version;
//   - team and support from the owner and contact, status "active".
package odps

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/odcs"
)

// APIVersion is the ODPS version the documents follow.
const APIVersion = "v1.0.0"

// ContentType is the MIME type of a rendered document.
const ContentType = "application/yaml"

// Product is an ODPS data product, the subset the catalog fills.
type Product struct {
	APIVersion       string                `yaml:"apiVersion"`
	Kind             string                `yaml:"kind"`
	ID               string                `yaml:"id"`
	Name             string                `yaml:"name"`
	Version          string                `yaml:"version"`
	Status           string                `yaml:"status"`
	Domain           string                `yaml:"domain"`
	Tags             []string              `yaml:"tags,omitempty"`
	Description      *Description          `yaml:"description,omitempty"`
	InputPorts       []InputPort           `yaml:"inputPorts,omitempty"`
	OutputPorts      []OutputPort          `yaml:"outputPorts"`
	Team             *Team                 `yaml:"team,omitempty"`
	Support          []Support             `yaml:"support,omitempty"`
	CustomProperties []odcs.CustomProperty `yaml:"customProperties,omitempty"`
	ProductCreatedTs string                `yaml:"productCreatedTs,omitempty"`
}

// Description says what the product is for.
type Description struct {
	Purpose     string `yaml:"purpose,omitempty"`
	Usage       string `yaml:"usage,omitempty"`
	Limitations string `yaml:"limitations,omitempty"`
}

// InputPort is a consumed product.
type InputPort struct {
	Name       string `yaml:"name"`
	Version    string `yaml:"version"`
	ContractID string `yaml:"contractId"`
}

// OutputPort is a published product with its contract.
type OutputPort struct {
	Name             string                `yaml:"name"`
	Description      string                `yaml:"description,omitempty"`
	Type             string                `yaml:"type"`
	Version          string                `yaml:"version"`
	ContractID       string                `yaml:"contractId"`
	InputContracts   []InputContract       `yaml:"inputContracts,omitempty"`
	CustomProperties []odcs.CustomProperty `yaml:"customProperties,omitempty"`
}

// InputContract is a contract an output port's data is derived from.
type InputContract struct {
	ID      string `yaml:"id"`
	Version string `yaml:"version"`
}

// Team is the owning team.
type Team struct {
	Name    string   `yaml:"name"`
	Members []Member `yaml:"members,omitempty"`
}

// Member is a team member.
type Member struct {
	Username string `yaml:"username"`
	Role     string `yaml:"role,omitempty"`
}

// Support is a support channel.
type Support struct {
	Channel string `yaml:"channel"`
	URL     string `yaml:"url"`
	Tool    string `yaml:"tool,omitempty"`
}

// Build returns the ODPS product named name (a product id or a domain) whose output ports are
// outputs; known holds the registered entries by product id, to version the input ports.
func Build(name string, outputs []catalog.Entry, known map[string]catalog.Entry) (*Product, error) {
	if len(outputs) == 0 {
		return nil, fmt.Errorf("odps.Build: %s: no products to describe", name)
	}
	first := outputs[0].Descriptor
	p := &Product{
		APIVersion: APIVersion, Kind: "DataProduct", ID: name, Name: name, Status: "active",
		Domain: first.GetDomain(), Version: "1.0.0",
		Team: &Team{Name: first.GetOwner(), Members: []Member{{Username: first.GetOwner(), Role: "owner"}}},
	}
	if len(outputs) == 1 {
		p.Name = first.GetProduct()
		p.Version = odcs.Version(outputs[0])
		p.Tags = first.GetTags()
		p.Description = &Description{Purpose: first.GetDescription()}
	} else {
		p.Description = &Description{Purpose: fmt.Sprintf("The data products of the %s domain.", first.GetDomain())}
	}
	if c := first.GetContact(); c != "" {
		url := c
		if strings.Contains(c, "@") && !strings.Contains(c, "://") {
			url = "mailto:" + c
		}
		p.Support = []Support{{Channel: c, URL: url}}
	}
	var created time.Time
	isOutput := map[string]bool{}
	for _, e := range outputs {
		isOutput[e.Descriptor.GetName()] = true
		if created.IsZero() || (!e.RegisteredAt.IsZero() && e.RegisteredAt.Before(created)) {
			created = e.RegisteredAt
		}
	}
	var inputs []string
	for _, e := range outputs {
		d := e.Descriptor
		port := OutputPort{
			Name: d.GetName(), Description: d.GetDescription(), Type: "nats-jetstream",
			Version: odcs.Version(e), ContractID: d.GetName(),
			CustomProperties: []odcs.CustomProperty{
				{Property: "stream", Value: d.GetStream()},
				{Property: "subjects", Value: d.GetSubjects()},
				{Property: "messageName", Value: d.GetSchema().GetMessageName()},
			},
		}
		for _, u := range d.GetUpstreams() {
			port.InputContracts = append(port.InputContracts, InputContract{ID: u, Version: versionOf(u, known)})
			if !isOutput[u] && !slices.Contains(inputs, u) {
				inputs = append(inputs, u)
			}
		}
		p.OutputPorts = append(p.OutputPorts, port)
	}
	slices.Sort(inputs)
	for _, u := range inputs {
		p.InputPorts = append(p.InputPorts, InputPort{Name: u, Version: versionOf(u, known), ContractID: u})
	}
	if !created.IsZero() {
		p.ProductCreatedTs = created.UTC().Format(time.RFC3339)
	}
	return p, nil
}

// versionOf is the registered contract version of product id, or "<major>.0.0" from the id
// when it is not registered.
func versionOf(id string, known map[string]catalog.Entry) string {
	if e, ok := known[id]; ok {
		return odcs.Version(e)
	}
	if i := strings.LastIndex(id, ".v"); i >= 0 {
		return id[i+2:] + ".0.0"
	}
	return "1.0.0"
}

// Render renders Build's product as YAML.
func Render(name string, outputs []catalog.Entry, known map[string]catalog.Entry) ([]byte, error) {
	p, err := Build(name, outputs, known)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("odps.Render: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("odps.Render: %w", err)
	}
	return b.Bytes(), nil
}
