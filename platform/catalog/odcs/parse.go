package odcs

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse reads an ODCS v3 contract (v3.0.x or v3.1.0, YAML or JSON) into a Contract. Unknown
// keys are ignored, so contracts from other tools read as far as the catalog's subset goes;
// v3.0's team list and v3.1's team object are both accepted. It fails naming the field for a
// document that is not an ODCS v3 data contract or has no schema object.
func Parse(data []byte) (*Contract, error) {
	const op = "odcs.Parse"
	var raw struct {
		APIVersion  string      `yaml:"apiVersion"`
		Kind        string      `yaml:"kind"`
		ID          string      `yaml:"id"`
		Name        string      `yaml:"name"`
		Version     string      `yaml:"version"`
		Domain      string      `yaml:"domain"`
		DataProduct string      `yaml:"dataProduct"`
		Tags        []string    `yaml:"tags"`
		Description Description `yaml:"description"`
		Schema      []Object    `yaml:"schema"`
		Support     []Channel   `yaml:"support"`
		SLA         []struct {
			Property string `yaml:"property"`
			Value    any    `yaml:"value"`
			Unit     string `yaml:"unit"`
			Element  string `yaml:"element"`
		} `yaml:"slaProperties"`
		TeamAny yaml.Node `yaml:"team"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: not an ODCS document: %w", op, err)
	}
	c := Contract{
		APIVersion: raw.APIVersion, Kind: raw.Kind, ID: raw.ID, Name: raw.Name, Version: raw.Version,
		Domain: raw.Domain, DataProduct: raw.DataProduct, Tags: raw.Tags, Description: raw.Description,
		Schema: raw.Schema, Support: raw.Support,
	}
	for _, p := range raw.SLA {
		// Only whole-number objectives carry over; others (text values) are left to the reader.
		if v, ok := p.Value.(int); ok {
			c.SLAProperties = append(c.SLAProperties, SLAProperty{Property: p.Property, Value: int64(v), Unit: p.Unit, Element: p.Element})
		}
	}
	switch {
	case !strings.HasPrefix(c.APIVersion, "v3."):
		return nil, fmt.Errorf("%s: apiVersion %q: want an ODCS v3 version like v3.1.0", op, c.APIVersion)
	case c.Kind != "DataContract":
		return nil, fmt.Errorf("%s: kind %q: want DataContract", op, c.Kind)
	case len(c.Schema) == 0:
		return nil, fmt.Errorf("%s: schema: the contract declares no schema object to start a product from", op)
	}
	switch raw.TeamAny.Kind {
	case yaml.MappingNode:
		var t Team
		if err := raw.TeamAny.Decode(&t); err != nil {
			return nil, fmt.Errorf("%s: team: %w", op, err)
		}
		c.Team = &t
	case yaml.SequenceNode:
		var ms []Member
		if err := raw.TeamAny.Decode(&ms); err != nil {
			return nil, fmt.Errorf("%s: team: %w", op, err)
		}
		c.Team = &Team{Members: ms}
	}
	return &c, nil
}
