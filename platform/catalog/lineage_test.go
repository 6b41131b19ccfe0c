package catalog_test

import (
	"fmt"
	"slices"
	"testing"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/errs"
)

// mesh is a small registry: raw readings feed clean readings, which feed machine health;
// scheduling derives jobs from health and from files' reports (which nobody registered).
var mesh = []catalog.Links{
	{ID: "quality.raw.v1", Domain: "quality"},
	{ID: "quality.clean.v1", Domain: "quality", Upstreams: []string{"quality.raw.v1"}},
	{ID: "quality.health.v1", Domain: "quality", Upstreams: []string{"quality.clean.v1"}},
	{ID: "scheduling.jobs.v1", Domain: "scheduling", Upstreams: []string{"quality.health.v1", "files.reports.v1"}},
}

func edges(g catalog.Graph) []string {
	var out []string
	for _, e := range g.Edges {
		out = append(out, fmt.Sprintf("%s>%s %s", e.From, e.To, e.Status))
	}
	return out
}

func TestBuildLineage(t *testing.T) {
	t.Parallel()
	observed := map[string][]string{
		"quality.raw.v1":    {"quality"},
		"quality.clean.v1":  {"quality", "logistics"},
		"quality.health.v1": {"scheduling", "quality"},
	}
	tests := []struct {
		name   string
		center string
		depth  int
		edges  []string
	}{
		{"one hop around health", "quality.health.v1", 1, []string{
			"product:quality.clean.v1>product:quality.health.v1 CONFIRMED",
			"product:quality.health.v1>product:scheduling.jobs.v1 CONFIRMED",
			"product:quality.health.v1>domain:quality OBSERVED_ONLY",
		}},
		{"upstream declared only", "scheduling.jobs.v1", 1, []string{
			"product:quality.health.v1>product:scheduling.jobs.v1 CONFIRMED",
			"product:files.reports.v1>product:scheduling.jobs.v1 DECLARED_ONLY",
		}},
		{"two hops up", "scheduling.jobs.v1", 2, []string{
			"product:quality.health.v1>product:scheduling.jobs.v1 CONFIRMED",
			"product:files.reports.v1>product:scheduling.jobs.v1 DECLARED_ONLY",
			"product:quality.clean.v1>product:quality.health.v1 CONFIRMED",
		}},
		{"two hops down with an undeclared consumer", "quality.raw.v1", 2, []string{
			"product:quality.raw.v1>product:quality.clean.v1 CONFIRMED",
			"product:quality.clean.v1>product:quality.health.v1 CONFIRMED",
			"product:quality.clean.v1>domain:logistics OBSERVED_ONLY",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := catalog.BuildLineage(tt.center, tt.depth, mesh, observed)
			if got := edges(g); !slices.Equal(got, tt.edges) {
				t.Errorf("edges:\n got %q\nwant %q", got, tt.edges)
			}
			if g.Nodes[0].ID != "product:"+tt.center {
				t.Errorf("first node = %s, want the centre", g.Nodes[0].ID)
			}
			ids := map[string]bool{}
			for _, n := range g.Nodes {
				ids[n.ID] = true
			}
			for _, e := range g.Edges {
				if !ids[e.From] || !ids[e.To] {
					t.Errorf("edge %v has a node missing from %v", e, g.Nodes)
				}
			}
		})
	}
}

func TestBuildLineageWithoutObservations(t *testing.T) {
	t.Parallel()
	g := catalog.BuildLineage("quality.clean.v1", 1, mesh, nil)
	if got, want := g.Products(), []string{"quality.clean.v1", "quality.raw.v1", "quality.health.v1"}; !slices.Equal(got, want) {
		t.Errorf("products = %v, want %v", got, want)
	}
	for _, e := range g.Edges {
		if e.Status != catalog.DeclaredOnly {
			t.Errorf("edge %v: without observations every declared edge is DECLARED_ONLY", e)
		}
	}
}

func TestBuildLineageCycle(t *testing.T) {
	t.Parallel()
	cycle := []catalog.Links{
		{ID: "a.x.v1", Domain: "a", Upstreams: []string{"b.y.v1"}},
		{ID: "b.y.v1", Domain: "b", Upstreams: []string{"a.x.v1"}},
	}
	g := catalog.BuildLineage("a.x.v1", 5, cycle, nil)
	if len(g.Nodes) != 2 || len(g.Edges) != 2 {
		t.Errorf("cycle graph = %v %v, want 2 nodes and 2 edges", g.Nodes, g.Edges)
	}
}

func TestLineageDepth(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want int }{{0, 1}, {1, 1}, {3, 3}, {5, 5}, {9, 5}} {
		if got, err := catalog.LineageDepth(tt.in); err != nil || got != tt.want {
			t.Errorf("LineageDepth(%d) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if _, err := catalog.LineageDepth(-1); !errs.Is(err, errs.Invalid) || errs.Violations(err)[0].Field != "depth" {
		t.Errorf("LineageDepth(-1) = %v, want invalid depth", err)
	}
}
