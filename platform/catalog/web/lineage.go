package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/errs"
)

// Lineage drawing geometry, in SVG user units.
const (
	nodeW, nodeH = 230, 40
	colGap       = 90
	rowGap       = 22
	graphPad     = 16
)

// placed is a node with its column and row.
type placed struct {
	catalog.Node
	Level, Row int
}

// layout gives every node a column: the centre at 0, upstreams to the left, downstreams and
// consuming domains to the right, then a row within its column in the graph's order. Columns
// are numbered from 0 at the leftmost.
func layout(g catalog.Graph) []placed {
	if len(g.Nodes) == 0 {
		return nil
	}
	level := map[string]int{g.Nodes[0].ID: 0}
	// Edges point downstream: From is one column left of To. Propagate from the centre until
	// no node gains a column (each pass fixes at least one, so len(Nodes) passes suffice).
	for range g.Nodes {
		changed := false
		for _, e := range g.Edges {
			lf, okF := level[e.From]
			lt, okT := level[e.To]
			switch {
			case okF && !okT:
				level[e.To], changed = lf+1, true
			case okT && !okF:
				level[e.From], changed = lt-1, true
			}
		}
		if !changed {
			break
		}
	}
	least := 0
	for _, l := range level {
		least = min(least, l)
	}
	rows := map[int]int{}
	out := make([]placed, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		l := level[n.ID] - least
		out = append(out, placed{Node: n, Level: l, Row: rows[l]})
		rows[l]++
	}
	return out
}

func nodeX(p placed) int { return graphPad + p.Level*(nodeW+colGap) }
func nodeY(p placed) int { return graphPad + p.Row*(nodeH+rowGap) }

// edgeClass names an edge's status for the drawing and its legend.
func edgeClass(s catalog.EdgeStatus) string {
	switch s {
	case catalog.Confirmed:
		return "confirmed"
	case catalog.DeclaredOnly:
		return "declared-only"
	}
	return "observed-only"
}

// Drift is an edge where what is declared and what JetStream shows disagree.
type Drift struct {
	From, To, Why string
}

// drifts lists the graph's disagreements.
func drifts(g catalog.Graph) []Drift {
	var out []Drift
	name := func(id string) string { _, n, _ := strings.Cut(id, ":"); return n }
	for _, e := range g.Edges {
		switch e.Status {
		case catalog.DeclaredOnly:
			out = append(out, Drift{name(e.From), name(e.To), "declared as upstream, but no consumer of its domain reads the stream"})
		case catalog.ObservedOnly:
			out = append(out, Drift{name(e.From), name(e.To), "consumes the stream, but none of its products declares it"})
		}
	}
	return out
}

// drawLineage draws the graph: product nodes link to their pages, domains are plain boxes;
// confirmed flows solid, declared-only dashed, observed-only dotted.
func drawLineage(g catalog.Graph) template.HTML {
	ps := layout(g)
	at := map[string]placed{}
	w, h := 0, 0
	for _, p := range ps {
		at[p.ID] = p
		w, h = max(w, nodeX(p)+nodeW+graphPad), max(h, nodeY(p)+nodeH+graphPad)
	}
	esc := template.HTMLEscapeString
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="lineage" viewBox="0 0 %d %d" width="%d" height="%d" role="group" aria-labelledby="lineage-title" xmlns="http://www.w3.org/2000/svg">`, w, h, w, h)
	fmt.Fprintf(&sb, `<title id="lineage-title">Lineage of %s: %d nodes, %d flows</title>`, esc(g.Nodes[0].Name), len(ps), len(g.Edges))
	sb.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`)
	for _, e := range g.Edges {
		from, to := at[e.From], at[e.To]
		x1, y1 := nodeX(from)+nodeW, nodeY(from)+nodeH/2
		x2, y2 := nodeX(to), nodeY(to)+nodeH/2
		mid := (x1 + x2) / 2
		fmt.Fprintf(&sb, `<path d="M%d,%d C%d,%d %d,%d %d,%d" class="edge %s" data-from="%s" data-to="%s" data-status="%s" marker-end="url(#arrow)"><title>%s → %s: %s</title></path>`,
			x1, y1, mid, y1, mid, y2, x2, y2, edgeClass(e.Status), esc(e.From), esc(e.To), e.Status, esc(from.Name), esc(to.Name), strings.ReplaceAll(edgeClass(e.Status), "-", " "))
	}
	for i, p := range ps {
		x, y := nodeX(p), nodeY(p)
		label := p.Name
		if len(label) > 30 {
			label = label[:29] + "…"
		}
		kind, cls := "product", "node product"
		if p.Kind == catalog.DomainNode {
			kind, cls = "domain", "node domain"
		}
		if i == 0 {
			cls += " center"
		}
		box := fmt.Sprintf(`<rect x="%d" y="%d" width="%d" height="%d" rx="6"/><text x="%d" y="%d">%s</text>`, x, y, nodeW, nodeH, x+10, y+25, esc(label))
		if p.Kind == catalog.ProductNode {
			fmt.Fprintf(&sb, `<a href="/products/%s" class="%s" data-node="%s" aria-label="%s %s">%s</a>`, esc(p.Name), cls, esc(p.ID), kind, esc(p.Name), box)
		} else {
			fmt.Fprintf(&sb, `<g class="%s" data-node="%s" role="img" aria-label="%s %s">%s</g>`, cls, esc(p.ID), kind, esc(p.Name), box)
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()) // names are escaped, the rest are numbers and constants
}

// lineageData is the lineage page's data.
type lineageData struct {
	Name   string
	Depth  int
	Depths []int
	Graph  catalog.Graph
	SVG    template.HTML
	Drifts []Drift
}

func (c *Console) lineage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	depth := 0
	if v := r.URL.Query().Get("depth"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			c.fail(w, r, errs.BadRequest("web.lineage", errs.Violation{Field: "depth", Description: "must be a whole number"}))
			return
		}
		depth = n
	}
	g, err := c.cfg.Catalog.Lineage(r.Context(), name, depth)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	depth, _ = catalog.LineageDepth(depth)
	d := lineageData{Name: name, Depth: depth, Graph: g, SVG: drawLineage(g), Drifts: drifts(g)}
	for i := 1; i <= catalog.MaxLineageDepth; i++ {
		d.Depths = append(d.Depths, i)
	}
	slices.SortStableFunc(d.Drifts, func(a, b Drift) int { return strings.Compare(a.From, b.From) })
	c.render(w, r, "lineage", "Lineage of "+name, "search", d)
}
