package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// maxDepth is the deepest lineage the catalog follows.
const maxDepth = 5

// lineageCmd is `meshctl catalog lineage`.
func (a *app) lineageCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "catalog lineage", args: "<product> [--depth N]",
		summary: "Shows the data flows around a product: upstream products it is derived from and the\ndomains consuming it, each edge confirmed (declared and observed), declared only, or\nobserved only (a consumer nobody declared)."})
	depth := fs.Int("depth", 1, "hops to follow up- and downstream (1 to 5)")
	name, err := a.oneProduct(fs, args)
	if err != nil {
		return err
	}
	if *depth < 1 || *depth > maxDepth {
		return usagef("catalog lineage: --depth %d: want 1 to %d", *depth, maxDepth)
	}
	client, done, err := a.catalogClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.GetLineage(ctx, &platformv1.GetLineageRequest{Name: name, Depth: int32(*depth)})
	if err != nil {
		return a.rpcErr("catalog lineage "+name, err)
	}
	if a.json() {
		return a.printProto(resp)
	}
	printLineage(a.stdout, name, resp)
	return nil
}

// printLineage writes one aligned line per edge:
// "quality.clean-readings.v1  ──▶  domain:scheduling  (observed only)".
func printLineage(out io.Writer, name string, resp *platformv1.GetLineageResponse) {
	if len(resp.GetEdges()) == 0 {
		fmt.Fprintf(out, "no lineage around %s: nothing declared upstream, no consumers observed\n", name)
		return
	}
	w := newTable(out)
	for _, e := range resp.GetEdges() {
		row(w, nodeLabel(e.GetFrom()), "──▶", nodeLabel(e.GetTo()), "("+edgeStatus(e.GetStatus())+")")
	}
	_ = w.Flush()
}

// nodeLabel shows a product node as its id and a domain node as domain:<name>.
func nodeLabel(id string) string {
	return strings.TrimPrefix(id, "product:")
}

// edgeStatus is an edge status in words: "confirmed", "declared only", "observed only".
func edgeStatus(s platformv1.LineageEdgeStatus) string {
	return enumWord(s.String(), "LINEAGE_EDGE_STATUS_")
}

// exportCmd is `meshctl catalog export`.
func (a *app) exportCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "catalog export", args: "<product> [--format odcs|odps]",
		summary: "Prints a product's contract in an external format: odcs is the Open Data Contract\nStandard v3.1 as YAML; odps the Open Data Product Standard v1.0 (the product, or with a domain\nname instead of a product id every product of the domain, as output ports; upstreams as input ports)."})
	format := fs.String("format", "odcs", "document `format`: odcs or odps")
	name, err := a.oneProduct(fs, args)
	if err != nil {
		return err
	}
	formats := map[string]platformv1.ExportFormat{"odcs": platformv1.ExportFormat_EXPORT_FORMAT_ODCS_V3_YAML, "odps": platformv1.ExportFormat_EXPORT_FORMAT_ODPS_V1_YAML}
	f, ok := formats[strings.ToLower(*format)]
	if !ok {
		return usagef("catalog export: --format %q: want odcs or odps", *format)
	}
	client, done, err := a.catalogClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.ExportProduct(ctx, &platformv1.ExportProductRequest{Name: name, Format: f})
	if err != nil {
		return a.rpcErr("catalog export "+name, err)
	}
	if a.json() {
		return a.printProto(resp)
	}
	fmt.Fprint(a.stdout, resp.GetContent())
	if !strings.HasSuffix(resp.GetContent(), "\n") {
		fmt.Fprintln(a.stdout)
	}
	return nil
}
