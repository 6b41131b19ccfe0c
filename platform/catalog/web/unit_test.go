package web

import (
	"bufio"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/errs"
)

func TestFacetsCountAgainstTheOtherSelections(t *testing.T) {
	t.Parallel()
	rs := []result{
		{Summary: catalog.Summary{Name: "a.x.v1", Domain: "a", Owner: "team-a", Tags: []string{"raw", "sensors"}}, Class: "internal"},
		{Summary: catalog.Summary{Name: "a.y.v1", Domain: "a", Owner: "team-a", Tags: []string{"sensors"}}, Class: "confidential"},
		{Summary: catalog.Summary{Name: "b.z.v1", Domain: "b", Owner: "team-b"}, Class: "internal"},
	}
	sel := selection{facetDomain: {"a"}, facetClass: {"internal"}}
	got := map[string]map[string]int{}
	for _, f := range facets(rs, sel) {
		got[f.Name] = map[string]int{}
		for _, v := range f.Values {
			got[f.Name][v.Value] = v.Count
		}
	}
	// Domains are counted among internal products, classifications among domain a's.
	if want := map[string]int{"a": 1, "b": 1}; !equalCounts(got[facetDomain], want) {
		t.Errorf("domain counts %v, want %v", got[facetDomain], want)
	}
	if want := map[string]int{"internal": 1, "confidential": 1}; !equalCounts(got[facetClass], want) {
		t.Errorf("classification counts %v, want %v", got[facetClass], want)
	}
	if want := map[string]int{"raw": 1, "sensors": 1}; !equalCounts(got[facetTag], want) {
		t.Errorf("tag counts %v, want %v", got[facetTag], want)
	}
	var matched []string
	for _, r := range rs {
		if sel.matches(r, "") {
			matched = append(matched, r.Name)
		}
	}
	if !slices.Equal(matched, []string{"a.x.v1"}) {
		t.Errorf("matched %v", matched)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestParseSearchNamesTheBadParameter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ query, field string }{
		{"page=0", "page"}, {"page=x", "page"}, {"classification=secret", "classification"}, {"freshness=old", "freshness"},
	} {
		v, _ := url.ParseQuery(tc.query)
		_, err := parseSearch(v)
		if vs := errs.Violations(err); len(vs) != 1 || vs[0].Field != tc.field || errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: %v, want an invalid %s", tc.query, err, tc.field)
		}
	}
	v, _ := url.ParseQuery("q=+sensors+&domain=a&domain=a&tag=raw&page=2")
	q, err := parseSearch(v)
	if err != nil || q.Text != "sensors" || !slices.Equal(q.Sel[facetDomain], []string{"a"}) || q.Page != 2 {
		t.Fatalf("parsed %+v, %v", q, err)
	}
	if got := q.encode(3); got != "domain=a&page=3&q=sensors&tag=raw" {
		t.Errorf("encode: %s", got)
	}
}

func TestLayoutPutsUpstreamsLeftAndConsumersRight(t *testing.T) {
	t.Parallel()
	links := []catalog.Links{
		{ID: "a.raw.v1", Domain: "a"},
		{ID: "b.mid.v1", Domain: "b", Upstreams: []string{"a.raw.v1"}},
		{ID: "c.top.v1", Domain: "c", Upstreams: []string{"b.mid.v1"}},
	}
	g := catalog.BuildLineage("b.mid.v1", 1, links, map[string][]string{"a.raw.v1": {"b"}, "b.mid.v1": {"x"}})
	cols := map[string]int{}
	for _, p := range layout(g) {
		cols[p.Name] = p.Level
	}
	want := map[string]int{"a.raw.v1": 0, "b.mid.v1": 1, "c.top.v1": 2, "x": 2}
	if !equalCounts(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	svg := string(drawLineage(g))
	for _, s := range []string{`href="/products/c.top.v1"`, `class="edge confirmed"`, `class="edge declared-only"`, `class="edge observed-only"`, `data-node="domain:x"`} {
		if !strings.Contains(svg, s) {
			t.Errorf("svg lacks %s", s)
		}
	}
	if ds := drifts(g); len(ds) != 2 {
		t.Errorf("drifts %v, want 2 (declared-only b→c, observed-only b→x)", ds)
	}
}

func TestKeyValuesSumsLabelSets(t *testing.T) {
	t.Parallel()
	text := `# HELP outbox_backlog_pending Unpublished events.
outbox_backlog_pending{outbox_table="a",otel_scope_name="x"} 3
outbox_backlog_pending{outbox_table="b"} 4
outbox_events_published_total{outbox_table="a"} 10
rpc_server_duration_bucket{le="1"} 7
`
	got, err := keyValues(bufio.NewScanner(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	want := []metricValue{{"outbox_backlog_pending", 7}, {"outbox_events_published", 10}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRedactClearsPIIFields(t *testing.T) {
	t.Parallel()
	d := catalogtest.Descriptor("lab.people.v1", catalogtest.Field{Name: "machine_id", Number: 1, Type: catalogtest.String},
		catalogtest.Field{Name: "email", Number: 2, Type: catalogtest.String, PII: true})
	p, err := schema.Load(d.GetSchema())
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(p.Message)
	m.Set(p.Message.Fields().ByName("machine_id"), protoValue("m-1"))
	m.Set(p.Message.Fields().ByName("email"), protoValue("a@example.com"))
	b, _ := proto.Marshal(m)
	for _, show := range []bool{false, true} {
		data, redacted, err := decoder{md: p.Message, showPII: show}.decode(b)
		if err != nil {
			t.Fatal(err)
		}
		hasEmail := strings.Contains(string(data), "a@example.com")
		if hasEmail != show || (len(redacted) == 1) == show || !strings.Contains(string(data), "m-1") {
			t.Errorf("showPII=%v: %s, redacted %v", show, data, redacted)
		}
	}
}

func TestChangesBetweenRevisions(t *testing.T) {
	t.Parallel()
	a := catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...)
	b := catalogtest.Descriptor("lab.readings.v1", append(catalogtest.BaseFields, catalogtest.Field{Name: "note", Number: 4, Type: catalogtest.String})...)
	b.Owner, b.FreshnessObjective = "lab-ops", durationpb.New(2*time.Minute)
	got := changesBetween(a, b)
	want := []string{`owner: "lab-team" → "lab-ops"`, `freshness objective: "1m0s" → "2m0s"`, "field added: note string"}
	if !slices.Equal(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
}

func TestParseEndpoints(t *testing.T) {
	t.Parallel()
	got, err := ParseEndpoints(DefaultEndpoints)
	if err != nil || len(got) != 6 || got[1] != (Endpoint{Name: "identity", URL: "http://127.0.0.1:8001"}) {
		t.Fatalf("%v, %v", got, err)
	}
	_, err = ParseEndpoints("catalog=http://x:8000, files=ftp://y")
	if vs := errs.Violations(err); len(vs) != 1 || vs[0].Field != "CONSOLE_SERVICES[1]" {
		t.Errorf("bad entry: %v", err)
	}
}

func TestParseTailNamesTheBadParameter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ query, field string }{
		{"subject=a.>", "subject"}, {"subject=a*b", "subject"}, {"since=yesterday", "since"}, {"after=-1", "after"},
	} {
		r := httptestRequest("/products/x/events/stream?" + tc.query)
		_, err := parseTail(r)
		if vs := errs.Violations(err); len(vs) != 1 || vs[0].Field != tc.field {
			t.Errorf("%s: %v, want an invalid %s", tc.query, err, tc.field)
		}
	}
	f, err := parseTail(httptestRequest("/x?since=2026-01-02T15:04&subject=m-1"))
	if err != nil || !f.Since.Equal(time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)) || f.Subject != "m-1" {
		t.Errorf("%+v, %v", f, err)
	}
}
