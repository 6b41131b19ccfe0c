package odcs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"meshwork.dev/platform/access"
	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/dataproduct/rules"
)

// compileSchema loads a vendored JSON Schema of the standard, asserting formats (uri, date-time).
func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(path, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// asJSON turns a YAML document into the JSON values the validator expects.
func asJSON(t *testing.T, y []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportValidAgainstODCSSchema validates exports against ODCS v3.1.0's own JSON Schema:
// a plain product, and one with quality rules, grants and several NATS URLs.
func TestExportValidAgainstODCSSchema(t *testing.T) {
	t.Parallel()
	s := compileSchema(t, "testdata/odcs-json-schema-v3.1.0.json")
	ruled := summaries
	ruled.Rules = []rules.Rule{
		{ID: "name-set", Description: "every summary names its product", Expr: `event.name != ""`, Policy: rules.Reject, Dimension: "completeness"},
		{ID: "revision-positive", Expr: "event.revision > 0", Policy: rules.Count},
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	grants := []access.Request{
		{ID: "r1", Product: "quality.summaries.v1", Namespace: "scheduling", Purpose: "dashboards", State: access.Approved, DecidedBy: "admin", ExpiresAt: now.Add(time.Hour)},
		{ID: "r2", Product: "quality.summaries.v1", Namespace: "ana", Purpose: "audit", PII: true, State: access.Approved, DecidedBy: "owner", ExpiresAt: now.Add(time.Hour)},
		{ID: "r3", Product: "quality.summaries.v1", Namespace: "gone", State: access.Revoked, ExpiresAt: now.Add(time.Hour)},
	}
	for name, opts := range map[string]odcs.Options{
		"plain": {NATSURL: "nats://mesh.example:4222"},
		"ruled": {NATSURL: "nats://a.example:4222,nats://b.example:4222", Grants: grants, Now: now},
	} {
		d := summaries.Descriptor()
		if name == "ruled" {
			d = ruled.Descriptor()
		}
		out, err := odcs.Render(entry(t, d, 2), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(asJSON(t, out)); err != nil {
			t.Errorf("%s export is not valid ODCS v3.1.0: %v\n%s", name, err, out)
		}
		if name != "ruled" {
			continue
		}
		doc := parse(t, entry(t, d, 2), opts)
		for _, c := range []struct {
			path []any
			want any
		}{
			{[]any{"schema", 0, "quality", 0, "id"}, "name-set"},
			{[]any{"schema", 0, "quality", 0, "type"}, "custom"},
			{[]any{"schema", 0, "quality", 0, "engine"}, "cel"},
			{[]any{"schema", 0, "quality", 0, "implementation"}, `event.name != ""`},
			{[]any{"schema", 0, "quality", 0, "severity"}, "error"},
			{[]any{"schema", 0, "quality", 0, "dimension"}, "completeness"},
			{[]any{"schema", 0, "quality", 1, "severity"}, "warning"},
			{[]any{"roles", 1, "role"}, "scheduling:reader"},
			{[]any{"roles", 1, "firstLevelApprovers"}, "admin"},
			{[]any{"roles", 2, "role"}, "ana:reader"},
		} {
			if got := at(t, doc, c.path...); got != c.want {
				t.Errorf("%v = %v, want %v", c.path, got, c.want)
			}
		}
		if n := len(at(t, doc, "roles").([]any)); n != 3 {
			t.Errorf("%d roles, want the owner and two active grants", n)
		}
	}
}

// TestSchemaCatchesInvalid makes sure the validation can fail: a contract without its
// required version, and a server type ODCS does not know.
func TestSchemaCatchesInvalid(t *testing.T) {
	t.Parallel()
	s := compileSchema(t, "testdata/odcs-json-schema-v3.1.0.json")
	c, err := odcs.Build(entry(t, summaries.Descriptor(), 1), odcs.Options{NATSURL: "nats://x:4222"})
	if err != nil {
		t.Fatal(err)
	}
	c.Version = ""
	c.Servers[0].Type = "nats"
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(asJSON(t, out)); err == nil {
		t.Fatal("a contract without version and with server type nats validated")
	}
}
