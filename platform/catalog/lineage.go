package catalog

import (
	"slices"

	"meshwork.dev/platform/errs"
)

// Lineage depths.
const (
	DefaultLineageDepth = 1
	MaxLineageDepth     = 5
)

// Links is what lineage needs to know of a registered product.
type Links struct {
	// ID is the product id; Domain its owning domain; Stream its JetStream stream.
	ID, Domain, Stream string
	// Upstreams are the product ids it declares it is derived from.
	Upstreams []string
}

// NodeKind is the kind of a lineage node.
type NodeKind int

// Node kinds.
const (
	// ProductNode is a data product, registered or only named as an upstream.
	ProductNode NodeKind = iota + 1
	// DomainNode is a domain seen consuming a product.
	DomainNode
)

// Node is a product or a consuming domain.
type Node struct {
	// ID is "product:<id>" or "domain:<name>".
	ID   string
	Kind NodeKind
	// Name is the product id or the domain.
	Name string
}

// EdgeStatus compares a declared flow with what JetStream shows.
type EdgeStatus int

// Edge statuses.
const (
	// Confirmed: declared as an upstream, and the downstream's domain consumes the stream.
	Confirmed EdgeStatus = iota + 1
	// DeclaredOnly: declared as an upstream, but no consumer of the downstream's domain.
	DeclaredOnly
	// ObservedOnly: a domain consumes the stream, but none of its products declares it.
	ObservedOnly
)

// String returns the status as the API spells it, without its prefix.
func (s EdgeStatus) String() string {
	switch s {
	case Confirmed:
		return "CONFIRMED"
	case DeclaredOnly:
		return "DECLARED_ONLY"
	case ObservedOnly:
		return "OBSERVED_ONLY"
	}
	return "UNSPECIFIED"
}

// Edge is a data flow from a producer side to a consumer side.
type Edge struct {
	From, To string
	Status   EdgeStatus
}

// Graph is the lineage around one product.
type Graph struct {
	// Nodes, the centre first, then in the order they were reached.
	Nodes []Node
	// Edges in the order they were found.
	Edges []Edge
}

// ProductNodeID is the node id of a product: "product:<id>".
func ProductNodeID(id string) string { return "product:" + id }

// DomainNodeID is the node id of a domain: "domain:<name>".
func DomainNodeID(domain string) string { return "domain:" + domain }

// LineageDepth resolves a requested depth: 0 means DefaultLineageDepth, more than
// MaxLineageDepth means MaxLineageDepth, a negative depth is an errs.Invalid error.
func LineageDepth(depth int) (int, error) {
	switch {
	case depth < 0:
		return 0, errs.BadRequest("catalog.LineageDepth", errs.Violation{Field: "depth", Description: "must not be negative"})
	case depth == 0:
		return DefaultLineageDepth, nil
	}
	return min(depth, MaxLineageDepth), nil
}

// BuildLineage draws the graph around product center from the registry's links and the
// consuming domains observed on each product's stream (consumers, by product id; a product
// missing from it shows no consumers). It follows declared upstreams up to depth hops
// upstream, and declared downstreams (products naming a product as upstream) up to depth
// hops downstream:
//
//   - each declared upstream U of a product P gives the edge product:U → product:P,
//     Confirmed when U's stream has a consumer of P's domain, else DeclaredOnly;
//   - each domain D consuming a product P on the downstream walk, when no product of D
//     declares P as upstream, gives the edge product:P → domain:D, ObservedOnly.
//
// Domain nodes are leaves. With consumers nil, the graph holds every product whose
// consumers the full graph needs: call it so first, observe those, then again.
func BuildLineage(center string, depth int, links []Links, consumers map[string][]string) Graph {
	b := lineage{
		byID:      make(map[string]Links, len(links)),
		down:      map[string][]string{},
		consumers: consumers,
		nodes:     map[string]bool{},
		edges:     map[[2]string]bool{},
	}
	for _, l := range links {
		b.byID[l.ID] = l
		for _, u := range l.Upstreams {
			b.down[u] = append(b.down[u], l.ID)
		}
	}
	for _, ds := range b.down {
		slices.Sort(ds)
	}
	b.product(center)
	b.walk(center, depth, b.upstreamStep)
	b.walk(center, depth, b.downstreamStep)
	return b.g
}

// lineage builds one Graph.
type lineage struct {
	byID      map[string]Links
	down      map[string][]string // product id -> ids of products declaring it upstream
	consumers map[string][]string
	nodes     map[string]bool
	edges     map[[2]string]bool
	g         Graph
}

// walk visits products breadth first from center for depth hops, step giving each visited
// product's neighbours in the walk's direction.
func (b *lineage) walk(center string, depth int, step func(string) []string) {
	seen := map[string]bool{center: true}
	frontier := []string{center}
	for range depth {
		var next []string
		for _, p := range frontier {
			for _, n := range step(p) {
				if !seen[n] {
					seen[n] = true
					next = append(next, n)
				}
			}
		}
		frontier = next
	}
}

// upstreamStep adds p's declared upstream edges and returns the upstreams.
func (b *lineage) upstreamStep(p string) []string {
	ups := b.byID[p].Upstreams
	for _, u := range ups {
		b.product(u)
		b.edge(ProductNodeID(u), ProductNodeID(p), b.declared(u, p))
	}
	return ups
}

// downstreamStep adds p's declared downstream edges and its observed-only consumers, and
// returns the declared downstreams.
func (b *lineage) downstreamStep(p string) []string {
	declaredBy := map[string]bool{}
	for _, q := range b.down[p] {
		b.product(q)
		b.edge(ProductNodeID(p), ProductNodeID(q), b.declared(p, q))
		declaredBy[b.byID[q].Domain] = true
	}
	for _, d := range b.consumers[p] {
		if !declaredBy[d] {
			b.node(Node{ID: DomainNodeID(d), Kind: DomainNode, Name: d})
			b.edge(ProductNodeID(p), DomainNodeID(d), ObservedOnly)
		}
	}
	return b.down[p]
}

// declared is the status of the declared flow from product u to product p.
func (b *lineage) declared(u, p string) EdgeStatus {
	if slices.Contains(b.consumers[u], b.byID[p].Domain) {
		return Confirmed
	}
	return DeclaredOnly
}

func (b *lineage) product(id string) {
	b.node(Node{ID: ProductNodeID(id), Kind: ProductNode, Name: id})
}

func (b *lineage) node(n Node) {
	if !b.nodes[n.ID] {
		b.nodes[n.ID] = true
		b.g.Nodes = append(b.g.Nodes, n)
	}
}

func (b *lineage) edge(from, to string, s EdgeStatus) {
	if k := [2]string{from, to}; !b.edges[k] {
		b.edges[k] = true
		b.g.Edges = append(b.g.Edges, Edge{From: from, To: to, Status: s})
	}
}

// Products returns the ids of g's product nodes.
func (g Graph) Products() []string {
	var out []string
	for _, n := range g.Nodes {
		if n.Kind == ProductNode {
			out = append(out, n.Name)
		}
	}
	return out
}
