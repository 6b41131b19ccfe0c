package odps_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/odps"
)

func entry(t *testing.T, d *platformv1.DataProductDescriptor, rev int64) catalog.Entry {
	t.Helper()
	c, err := catalog.Check(d)
	if err != nil {
		t.Fatal(err)
	}
	return catalog.Entry{Descriptor: c.Descriptor, Revision: rev, RegisteredAt: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)}
}

func validator(t *testing.T) *jsonschema.Schema {
	t.Helper()
	const path = "testdata/odps-json-schema-v1.0.0.json"
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

func asJSON(t *testing.T, y []byte) (any, map[string]any) {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(y, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var plain map[string]any
	_ = json.Unmarshal(b, &plain)
	return out, plain
}

// mesh: readings (no upstream), health from readings and a foreign product, jobs elsewhere.
func mesh(t *testing.T) (readings, health catalog.Entry, known map[string]catalog.Entry) {
	r := catalogtest.Descriptor("care.readings.v1", catalogtest.BaseFields...)
	h := catalogtest.Descriptor("care.health.v1", catalogtest.BaseFields...)
	h.Upstreams = []string{"care.readings.v1", "lab.samples.v2"}
	s := catalogtest.Descriptor("lab.samples.v2", catalogtest.BaseFields...)
	readings, health = entry(t, r, 1), entry(t, h, 3)
	known = map[string]catalog.Entry{"care.readings.v1": readings, "care.health.v1": health, "lab.samples.v2": entry(t, s, 5)}
	return readings, health, known
}

func TestExportValidAgainstODPSSchema(t *testing.T) {
	t.Parallel()
	s := validator(t)
	readings, health, known := mesh(t)
	for _, tc := range []struct {
		name    string
		outputs []catalog.Entry
		outs    []string
		ins     map[string]string // input port -> version
	}{
		{"care.health.v1", []catalog.Entry{health}, []string{"care.health.v1"}, map[string]string{"care.readings.v1": "1.0.0", "lab.samples.v2": "2.4.0"}},
		{"care", []catalog.Entry{readings, health}, []string{"care.readings.v1", "care.health.v1"}, map[string]string{"lab.samples.v2": "2.4.0"}},
	} {
		out, err := odps.Render(tc.name, tc.outputs, known)
		if err != nil {
			t.Fatal(err)
		}
		doc, plain := asJSON(t, out)
		if err := s.Validate(doc); err != nil {
			t.Errorf("%s: not valid ODPS v1.0.0: %v\n%s", tc.name, err, out)
		}
		var outs []string
		for _, p := range plain["outputPorts"].([]any) {
			port := p.(map[string]any)
			outs = append(outs, port["name"].(string))
			if port["contractId"] != port["name"] {
				t.Errorf("%s: output port %v has contract %v", tc.name, port["name"], port["contractId"])
			}
		}
		if len(outs) != len(tc.outs) || outs[0] != tc.outs[0] {
			t.Errorf("%s: output ports %v, want %v", tc.name, outs, tc.outs)
		}
		ins := map[string]string{}
		for _, p := range plain["inputPorts"].([]any) {
			port := p.(map[string]any)
			ins[port["contractId"].(string)] = port["version"].(string)
		}
		if len(ins) != len(tc.ins) {
			t.Errorf("%s: input ports %v, want %v", tc.name, ins, tc.ins)
		}
		for k, v := range tc.ins {
			if ins[k] != v {
				t.Errorf("%s: input port %s version %q, want %q", tc.name, k, ins[k], v)
			}
		}
	}
}

func TestSchemaCatchesInvalid(t *testing.T) {
	t.Parallel()
	_, health, known := mesh(t)
	p, err := odps.Build("care.health.v1", []catalog.Entry{health}, known)
	if err != nil {
		t.Fatal(err)
	}
	p.Kind = "DataContract"
	out, _ := yaml.Marshal(p)
	doc, _ := asJSON(t, out)
	if err := validator(t).Validate(doc); err == nil {
		t.Fatal("kind DataContract validated as an ODPS product")
	}
	if _, err := odps.Build("x", nil, nil); err == nil {
		t.Fatal("no outputs built")
	}
}
