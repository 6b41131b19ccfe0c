package scaffold_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/dataproduct/rules"
	"meshwork.dev/platform/meshctl/scaffold"
)

// compiles fails t unless src is a valid .proto file.
func compiles(t *testing.T, path, src string) {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{path: src})})}
	if _, err := c.Compile(context.Background(), path); err != nil {
		t.Fatalf("generated proto does not compile: %v\n%s", err, src)
	}
}

// TestFromStandardExample starts a product from the standard's own full example.
func TestFromStandardExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/full-example.odcs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := odcs.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scaffold.FromODCS(c, "")
	if err != nil {
		t.Fatal(err)
	}
	compiles(t, s.ProtoPath, s.Proto)
	if s.ProductID != "seller.tbl.v1" || !strings.Contains(s.Proto, "google.protobuf.Timestamp transaction_reference_date = 1;") {
		t.Errorf("product %s, proto:\n%s", s.ProductID, s.Proto)
	}
	if !strings.Contains(s.Go, `Domain: "seller", Name: "tbl", Major: 1,`) {
		t.Errorf("go:\n%s", s.Go)
	}
	if notes := strings.Join(s.Notes, "; "); !strings.Contains(notes, "is not a CEL rule") {
		t.Errorf("notes %q do not flag the example's non-CEL quality checks", notes)
	}
}

// TestRoundTripOwnExport exports a product with rules, imports the contract and gets the same
// fields, rules and objectives back.
func TestRoundTripOwnExport(t *testing.T) {
	t.Parallel()
	p := dataproduct.Product{
		Domain: "lab", Name: "clean-readings", Major: 1, Owner: "lab-team", Contact: "lab@example.com",
		Description: "Readings after outlier filtering.", Message: &qualityv1.CleanReading{},
		Classification: dataproduct.ClassInternal, Freshness: 90 * time.Second,
		Rules: []rules.Rule{
			{ID: "value-in-range", Description: "plausible", Expr: "event.value >= -50.0", Policy: rules.DeadLetter, Dimension: "accuracy"},
			{ID: "sensor-set", Expr: `event.sensor_id != ""`, Policy: rules.Count},
		},
	}
	chk, err := catalog.Check(p.Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := odcs.Render(catalog.Entry{Descriptor: chk.Descriptor, Revision: 1}, odcs.Options{NATSURL: "nats://x:4222"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := odcs.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scaffold.FromODCS(c, "")
	if err != nil {
		t.Fatal(err)
	}
	compiles(t, s.ProtoPath, s.Proto)
	for _, want := range []string{"message CleanReading {", "string machine_id = 1;", "google.protobuf.Timestamp sampled_at = 3;", "double value = 5;", "repeated string flags = 6;"} {
		if !strings.Contains(s.Proto, want) {
			t.Errorf("proto lacks %q:\n%s", want, s.Proto)
		}
	}
	for _, want := range []string{
		`Domain: "lab", Name: "clean-readings", Major: 1,`, `Owner: "lab-team", Contact: "lab@example.com",`,
		"Freshness: 90 * time.Second,", "Retention: 7 * 24 * time.Hour,",
		`{ID: "value-in-range", Description: "plausible", Expr: "event.value >= -50.0", Policy: rules.DeadLetter, Dimension: "accuracy"},`,
		`{ID: "sensor-set", Description: "", Expr: "event.sensor_id != \"\"", Policy: rules.Count, Dimension: ""},`,
	} {
		if !strings.Contains(s.Go, want) {
			t.Errorf("go lacks %q:\n%s", want, s.Go)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: v2.2.2\nkind: DataContract\n", "apiVersion"},
		{"apiVersion: v3.1.0\nkind: DataProduct\n", "kind"},
		{"apiVersion: v3.1.0\nkind: DataContract\nid: x\n", "schema"},
		{"[: not yaml", "not an ODCS document"},
	} {
		if _, err := odcs.Parse([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error about %s", tc.doc, err, tc.want)
		}
	}
}
