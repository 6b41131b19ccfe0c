package odcs_test

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/dataproduct"
)

var summaries = dataproduct.Product{
	Domain: "quality", Name: "summaries", Major: 1,
	Owner: "quality-team", Contact: "quality@example.com",
	Description:    "One line per catalog product, republished for dashboards.",
	Tags:           []string{"dashboards"},
	Message:        &platformv1.ProductSummary{},
	Classification: dataproduct.ClassInternal,
	Freshness:      90 * time.Second,
	Upstreams:      []string{"catalog.product-changes.v1"},
	KeyDescription: "product id",
}

// parse renders e and reads the YAML back as generic maps.
func parse(t *testing.T, e catalog.Entry, opts odcs.Options) map[string]any {
	t.Helper()
	out, err := odcs.Render(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("rendered document is not YAML: %v\n%s", err, out)
	}
	return doc
}

func entry(t *testing.T, d *platformv1.DataProductDescriptor, revision int64) catalog.Entry {
	t.Helper()
	c, err := catalog.Check(d)
	if err != nil {
		t.Fatal(err)
	}
	return catalog.Entry{Descriptor: c.Descriptor, Revision: revision, RegisteredAt: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)}
}

// at walks doc along keys (strings for maps, ints for lists).
func at(t *testing.T, doc any, path ...any) any {
	t.Helper()
	v := doc
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

// property finds a schema property of the payload by name.
func property(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	for _, p := range at(t, doc, "schema", 0, "properties").([]any) {
		if p.(map[string]any)["name"] == name {
			return p.(map[string]any)
		}
	}
	t.Fatalf("no property %s", name)
	return nil
}

func TestRenderFundamentals(t *testing.T) {
	t.Parallel()
	doc := parse(t, entry(t, summaries.Descriptor(), 3), odcs.Options{NATSURL: "nats://mesh.example:4222"})
	want := map[string]any{
		"apiVersion": "v3.1.0", "kind": "DataContract", "id": "quality.summaries.v1", "name": "summaries",
		"version": "1.2.0", "status": "active", "domain": "quality", "dataProduct": "quality.summaries.v1",
		"contractCreatedTs": "2026-02-03T04:05:06Z",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}
	checks := []struct {
		path []any
		want any
	}{
		{[]any{"description", "purpose"}, summaries.Description},
		{[]any{"tags", 0}, "dashboards"},
		{[]any{"schema", 0, "name"}, "ProductSummary"},
		{[]any{"schema", 0, "physicalName"}, "mesh.platform.v1.ProductSummary"},
		{[]any{"schema", 0, "logicalType"}, "object"},
		{[]any{"servers", 0, "type"}, "custom"},
		{[]any{"servers", 0, "location"}, "nats://mesh.example:4222"},
		{[]any{"servers", 0, "format"}, "protobuf"},
		{[]any{"servers", 0, "customProperties", 0, "value"}, "nats-jetstream"},
		{[]any{"servers", 0, "customProperties", 1, "value"}, "QUALITY_SUMMARIES_V1"},
		{[]any{"servers", 0, "customProperties", 2, "value", 0}, "dp.quality.summaries.v1.>"},
		{[]any{"team", "members", 0, "username"}, "quality-team"},
		{[]any{"servers", 0, "stream"}, "QUALITY_SUMMARIES_V1"},
		{[]any{"roles", 0, "role"}, "quality:owner"},
		{[]any{"support", 0, "url"}, "mailto:quality@example.com"},
		{[]any{"slaProperties", 0, "property"}, "freshness"},
		{[]any{"slaProperties", 0, "value"}, 90},
		{[]any{"slaProperties", 0, "unit"}, "seconds"},
		{[]any{"slaProperties", 1, "property"}, "retention"},
		{[]any{"slaProperties", 1, "value"}, 7},
		{[]any{"slaProperties", 1, "unit"}, "days"},
	}
	for _, c := range checks {
		if got := at(t, doc, c.path...); got != c.want {
			t.Errorf("%v = %v, want %v", c.path, got, c.want)
		}
	}
	if u, _ := at(t, doc, "description", "usage").(string); u == "" {
		t.Error("no usage")
	}
}

func TestRenderProperties(t *testing.T) {
	t.Parallel()
	doc := parse(t, entry(t, summaries.Descriptor(), 1), odcs.Options{NATSURL: "nats://a:4222"})
	tests := []struct {
		name, logical, physical string
	}{
		{"name", "string", "string"},
		{"has_pii", "boolean", "bool"},
		{"revision", "integer", "int64"},
		{"classification", "string", "enum mesh.platform.v1.Classification"},
		{"updated_at", "date", "google.protobuf.Timestamp"},
		{"tags", "array", "repeated string"},
	}
	for _, tt := range tests {
		p := property(t, doc, tt.name)
		if p["logicalType"] != tt.logical || p["physicalType"] != tt.physical {
			t.Errorf("%s: %v / %v, want %s / %s", tt.name, p["logicalType"], p["physicalType"], tt.logical, tt.physical)
		}
	}
	if items := property(t, doc, "tags")["items"].(map[string]any); items["logicalType"] != "string" {
		t.Errorf("tags items = %v", items)
	}
	if at(t, property(t, doc, "classification"), "customProperties", 0, "property") != "enumValues" {
		t.Error("enum without its values")
	}
}

func TestRenderPII(t *testing.T) {
	t.Parallel()
	d := catalogtest.Descriptor("crm.contacts.v1",
		catalogtest.Field{Name: "contact_id", Number: 1, Type: catalogtest.String},
		catalogtest.Field{Name: "email", Number: 2, Type: catalogtest.String, PII: true})
	d.Contact = "#crm"
	doc := parse(t, entry(t, d, 1), odcs.Options{NATSURL: "nats://a:4222,nats://b:4222"})
	email := property(t, doc, "email")
	if at(t, email, "customProperties", 0, "property") != "pii" || at(t, email, "customProperties", 0, "value") != true {
		t.Errorf("email property = %v, want pii: true", email)
	}
	if _, ok := property(t, doc, "contact_id")["customProperties"]; ok {
		t.Error("contact_id is marked PII")
	}
	if at(t, doc, "support", 0, "channel") != "#crm" || at(t, doc, "support", 0, "tool") != "other" {
		t.Errorf("support = %v", doc["support"])
	}
	if got := at(t, doc, "servers", 0, "location"); got != "nats://a:4222" {
		t.Errorf("location = %v", got)
	}
	if lim, _ := at(t, doc, "description", "limitations").(string); lim != "Classified confidential. Personal data in email." {
		t.Errorf("limitations = %q", lim)
	}
}
