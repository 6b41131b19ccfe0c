package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/meshctl/rpcerr"
)

// catalogTimeout bounds one catalog command (not tail, which runs until stopped).
const catalogTimeout = 30 * time.Second

// pageSize is how many products meshctl asks for per page.
const pageSize = 200

// catalogCmd dispatches `meshctl catalog <sub>`.
func (a *app) catalogCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(a.stdout, `usage: meshctl catalog <command> [flags] [arguments]

commands:
  ls        [--domain D] [--owner O] [--classification C] [--pii|--no-pii]
  search    <words…> [same filters]
  show      <product> [--proto]
  lineage   <product> [--depth N]
  export    <product> [--format odcs]

Run 'meshctl catalog <command> -h' for a command's flags.
`)
		return errHelp
	}
	sub, rest := args[0], args[1:]
	ctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	switch sub {
	case "ls":
		return a.listCmd(ctx, rest)
	case "search":
		return a.searchCmd(ctx, rest)
	case "show":
		return a.showCmd(ctx, rest)
	case "lineage":
		return a.lineageCmd(ctx, rest)
	case "export":
		return a.exportCmd(ctx, rest)
	}
	return usagef("unknown command \"catalog %s\" (run 'meshctl catalog help')", sub)
}

// catalogClient connects to the catalog at --catalog; close the connection when done. The
// connection is lazy: an unreachable catalog shows as the first call's Unavailable error.
// Calls carry --token, or else the saved session's token when there is a usable one: the
// catalog's reads need none, but a token still identifies the caller.
func (a *app) catalogClient(ctx context.Context) (platformv1.CatalogServiceClient, func(), error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if tok := a.optionalBearer(ctx); tok != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(staticBearer(tok)))
	}
	conn, err := grpc.NewClient(a.g.catalog, opts...)
	if err != nil {
		return nil, nil, usagef("--catalog %q: %v", a.g.catalog, err)
	}
	return platformv1.NewCatalogServiceClient(conn), func() { _ = conn.Close() }, nil
}

// rpcErr renders a failed catalog call on one line, pointing at the address when the
// catalog cannot be reached.
func (a *app) rpcErr(op string, err error) error {
	err = rpcerr.Wrap(op, err)
	if status.Code(err) == codes.Unavailable {
		return fmt.Errorf("%w (is the catalog running at %s? set --catalog or CATALOG_ADDR)", err, a.g.catalog)
	}
	return err
}

// filterFlags are the product filters of ls and search.
type filterFlags struct {
	domain, owner, class string
	pii, noPII           bool
}

// register adds the filter flags to fs.
func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.domain, "domain", "", "only products of this `domain`")
	fs.StringVar(&f.owner, "owner", "", "only products of this owning `team`")
	fs.StringVar(&f.class, "classification", "", "only products of this `classification` (public, internal, confidential, restricted)")
	fs.BoolVar(&f.pii, "pii", false, "only products with PII fields")
	fs.BoolVar(&f.noPII, "no-pii", false, "only products without PII fields")
}

// filter builds the request filter, or a usage error.
func (f *filterFlags) filter() (*platformv1.ProductFilter, error) {
	pf := &platformv1.ProductFilter{Domain: f.domain, Owner: f.owner}
	if f.class != "" {
		c, err := parseClassification(f.class)
		if err != nil {
			return nil, usagef("--classification: %v", err)
		}
		pf.Classification = c
	}
	switch {
	case f.pii && f.noPII:
		return nil, usagef("--pii and --no-pii exclude each other")
	case f.pii:
		pf.HasPii = new(true)
	case f.noPII:
		pf.HasPii = new(false)
	}
	return pf, nil
}

// listCmd is `meshctl catalog ls`.
func (a *app) listCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "catalog ls", args: "[--domain D] [--owner O] [--classification C] [--pii|--no-pii]",
		summary: "Lists every registered data product matching the filters, paging through the catalog."})
	var ff filterFlags
	ff.register(fs.FlagSet)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("catalog ls: unexpected arguments %q (filters are flags)", pos)
	}
	filter, err := ff.filter()
	if err != nil {
		return err
	}
	client, done, err := a.catalogClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	products, err := listAll(ctx, client, filter)
	if err != nil {
		return a.rpcErr("catalog ls", err)
	}
	return a.printProducts(products, "no products match")
}

// searchCmd is `meshctl catalog search`.
func (a *app) searchCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "catalog search", args: "<words…> [--domain D] [--owner O] [--classification C] [--pii|--no-pii]",
		summary: "Searches product names, descriptions, tags and schema field names; best matches first."})
	var ff filterFlags
	ff.register(fs.FlagSet)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	query := strings.TrimSpace(strings.Join(pos, " "))
	if query == "" {
		return usagef("catalog search: give the words to search for")
	}
	filter, err := ff.filter()
	if err != nil {
		return err
	}
	client, done, err := a.catalogClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	var products []*platformv1.ProductSummary
	err = pages(func(token string) (string, error) {
		resp, err := client.SearchProducts(ctx, &platformv1.SearchProductsRequest{Query: query, Filter: filter, PageSize: pageSize, PageToken: token})
		products = append(products, resp.GetProducts()...)
		return resp.GetNextPageToken(), err
	})
	if err != nil {
		return a.rpcErr("catalog search", err)
	}
	return a.printProducts(products, "no products match "+fmt.Sprintf("%q", query))
}

// listAll pages through ListProducts.
func listAll(ctx context.Context, client platformv1.CatalogServiceClient, filter *platformv1.ProductFilter) ([]*platformv1.ProductSummary, error) {
	var products []*platformv1.ProductSummary
	err := pages(func(token string) (string, error) {
		resp, err := client.ListProducts(ctx, &platformv1.ListProductsRequest{Filter: filter, PageSize: pageSize, PageToken: token})
		products = append(products, resp.GetProducts()...)
		return resp.GetNextPageToken(), err
	})
	return products, err
}

// pages calls page with each next-page token until it returns an empty one. A token that
// comes back twice ends the loop, so a misbehaving server cannot make meshctl spin.
func pages(page func(token string) (string, error)) error {
	seen := map[string]bool{}
	token := ""
	for {
		next, err := page(token)
		if err != nil {
			return err
		}
		if next == "" || seen[next] {
			return nil
		}
		seen[next] = true
		token = next
	}
}

// printProducts prints product summaries as a table or a JSON array.
func (a *app) printProducts(products []*platformv1.ProductSummary, none string) error {
	if a.json() {
		out := make([]any, 0, len(products))
		for _, p := range products {
			raw, err := protoJSON(p)
			if err != nil {
				return err
			}
			out = append(out, raw)
		}
		return a.printJSON(out)
	}
	if len(products) == 0 {
		fmt.Fprintln(a.stdout, none)
		return nil
	}
	w := newTable(a.stdout)
	row(w, "NAME", "OWNER", "CLASSIFICATION", "PII", "MESSAGE", "DESCRIPTION")
	for _, p := range products {
		pii := "no"
		if p.GetHasPii() {
			pii = "yes"
		}
		row(w, p.GetName(), p.GetOwner(), classWord(p.GetClassification()), pii, p.GetMessageName(), truncate(p.GetDescription(), 60))
	}
	return w.Flush()
}
