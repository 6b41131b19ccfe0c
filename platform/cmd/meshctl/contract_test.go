package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/dataproduct/rules"
)

func contractProduct() dataproduct.Product {
	return dataproduct.Product{
		Domain: "lab", Name: "readings", Major: 1, Owner: "lab-team", Contact: "lab@example.com",
		Message: &qualityv1.CleanReading{}, Classification: dataproduct.ClassInternal, Freshness: time.Minute,
		Rules: []rules.Rule{{ID: "value-in-range", Expr: "event.value >= -50.0 && event.value <= 150.0", Policy: rules.DeadLetter}},
	}
}

// TestContractTest runs `meshctl contract test` on a healthy stream, then on the same stream
// after a wrong-schema event, then as if an hour had passed (stale).
func TestContractTest(t *testing.T) {
	p := contractProduct()
	e := newTailEnv(t, p)
	pub := e.publisher(p)
	for _, m := range []string{"m1", "m2"} {
		if _, err := pub.Publish(e.ctx, m, &qualityv1.CleanReading{MachineId: m, SensorId: "s", Value: 20, SampledAt: timestamppb.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	lastStored := func() time.Time {
		s, err := e.js.Stream(e.ctx, p.StreamName())
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.LastTime
	}

	r := meshctlAt(t, e.ctx, lastStored(), e.args("contract", "test", p.ID())...)
	r.wantCode(t, 0)
	if !strings.HasPrefix(r.stdout, "PASS lab.readings.v1: 2 events (last 100 events)") || strings.Contains(r.stdout, "FAIL") {
		t.Fatalf("healthy product report:\n%s", r.stdout)
	}

	// A wrong-schema event: another message's bytes under the product's headers.
	m, err := dataproduct.NewMessage(e.ctx, p, "m3", &qualityv1.CleanReading{MachineId: "m3"})
	if err != nil {
		t.Fatal(err)
	}
	m.Data, _ = proto.Marshal(&platformv1.ProductSummary{Name: "m3", Revision: 4})
	if _, err := e.js.PublishMsg(e.ctx, m); err != nil {
		t.Fatal(err)
	}
	r = meshctlAt(t, e.ctx, lastStored(), e.args("contract", "test", p.ID())...)
	r.wantCode(t, 1)
	r.wantErrLine(t, "contract test: 1 of 1 products failed")
	for _, want := range []string{"FAIL lab.readings.v1: 3 events", "FAIL schema      2 of 3 events decode as mesh.quality.v1.CleanReading",
		"- #3: payload has fields the schema does not declare"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}

	// Stale: judged an hour after the newest event, the one-minute objective is missed.
	r = meshctlAt(t, e.ctx, lastStored().Add(time.Hour), e.args("contract", "test", p.ID(), "--since", "2h", "--output", "junit")...)
	r.wantCode(t, 1)
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Body string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(r.stdout), &suites); err != nil {
		t.Fatalf("junit output: %v\n%s", err, r.stdout)
	}
	var failed []string
	for _, c := range suites.Suites[0].Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name)
			if c.Name == "freshness" && !strings.Contains(c.Failure.Body, "the product is stale") {
				t.Errorf("freshness failure %q does not say stale", c.Failure.Body)
			}
		}
	}
	if strings.Join(failed, ",") != "schema,freshness" {
		t.Errorf("failed checks %v, want schema and freshness:\n%s", failed, r.stdout)
	}

	r = meshctlAt(t, e.ctx, lastStored(), e.args("contract", "test", p.ID(), "--output", "json")...)
	var doc struct {
		Passed  bool
		Reports []struct{ Product string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Passed || doc.Reports[0].Product != p.ID() {
		t.Fatalf("json output (%v): %s", err, r.stdout)
	}
}

func TestContractTestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"contract", "test"}, "name one or more products"},
		{[]string{"contract", "test", "a.b.v1", "--output", "xml"}, `--output "xml": want text, json or junit`},
		{[]string{"contract", "test", "a.b.v1", "--since", "soon"}, "--since"},
		{[]string{"contract", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"contract", "breaking", "one"}, "want <old> <new>, got 1 arguments"},
		{[]string{"contract", "breaking", "missing/old.json", "new.json"}, "missing/old.json: no such file"},
	} {
		r := meshctl(t, tt.args...)
		r.wantCode(t, 2)
		r.wantErrLine(t, tt.want)
	}
}

func TestContractBreaking(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, d *platformv1.DataProductDescriptor) string {
		b, err := protojson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p := contractProduct()
	old := write("old.json", p.Descriptor())
	p.Description = "now documented"
	same := write("same.json", p.Descriptor())
	p.Message = &qualityv1.SensorFault{}
	changed := write("changed.json", p.Descriptor())

	r := meshctl(t, "contract", "breaking", old, same)
	r.wantCode(t, 0)
	if !strings.HasPrefix(r.stdout, "compatible: no breaking changes") {
		t.Errorf("compatible: %q", r.stdout)
	}
	r = meshctl(t, "contract", "breaking", old, changed)
	r.wantCode(t, 1)
	r.wantErrLine(t, "breaking change(s)", "publish a new major version")
	if !strings.Contains(r.stdout, "payload-renamed") {
		t.Errorf("breaking: %q", r.stdout)
	}
	r = meshctl(t, "-o", "json", "contract", "breaking", old, changed)
	r.wantCode(t, 1)
	var out struct {
		Breaking bool
		Changes  []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.Breaking || len(out.Changes) == 0 {
		t.Fatalf("json (%v): %s", err, r.stdout)
	}
}

func TestContractImport(t *testing.T) {
	src := filepath.Join("..", "..", "meshctl", "scaffold", "testdata", "full-example.odcs.yaml")
	r := meshctl(t, "contract", "import", src, "--domain", "billing")
	r.wantCode(t, 0)
	if !strings.Contains(r.stdout, "// product billing.tbl.v1") || !strings.Contains(r.stdout, "package mesh.billing.v1;") ||
		!strings.Contains(r.stdout, "var Tbl = dataproduct.Product{") || !strings.Contains(r.stderr, "is not a CEL rule") {
		t.Fatalf("import:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	dir := t.TempDir()
	r = meshctl(t, "contract", "import", src, "--out", dir)
	r.wantCode(t, 0)
	if _, err := os.Stat(filepath.Join(dir, "contracts", "proto", "mesh", "seller", "v1", "tbl.proto")); err != nil {
		t.Fatalf("--out: %v\n%s", err, r.stdout)
	}
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("apiVersion: v3.1.0\nkind: DataProduct\n"), 0o600)
	r = meshctl(t, "contract", "import", bad)
	r.wantCode(t, 2)
	r.wantErrLine(t, `kind "DataProduct": want DataContract`)
}

func TestShowPrintsRules(t *testing.T) {
	var b strings.Builder
	p := contractProduct()
	resp := &platformv1.GetProductResponse{Descriptor_: p.Descriptor(), Observed: &platformv1.ObservedState{
		RuleViolations: []*platformv1.RuleViolationCount{
			{RuleId: "value-in-range", Side: "publish", Reporter: "lab", Count: 2},
			{RuleId: "value-in-range", Side: "consume", Reporter: "sched", Count: 1},
		}}}
	printProduct(&b, resp, fixedNow)
	if !strings.Contains(b.String(), "Quality rules (violations: publish / consume)") ||
		!strings.Contains(b.String(), "value-in-range  dead-letter  -          2 / 1") {
		t.Fatalf("show:\n%s", b.String())
	}
}
