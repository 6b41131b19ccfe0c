package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/compat"
	"meshwork.dev/platform/meshctl/contracttest"
	"meshwork.dev/platform/meshctl/lint"
	"meshwork.dev/platform/natsauth"
)

// errContract is returned when a contract test or breaking check fails, after the report is
// printed: the exit status is 1 and the report says why.
var errContract = errors.New("contract failed")

// contractCmd is `meshctl contract`.
func (a *app) contractCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(a.stdout, `usage: meshctl contract <command> [flags] [arguments]

commands:
  test      <product…> [--since 10m | --last N] [--min-events N] [--output text|json|junit]
            check each product's live stream against its registered contract
  breaking  <old> <new>   breaking schema changes from old to new (descriptor files or product ids)
  import    <contract.odcs.yaml> [--domain D] [--out DIR]   start a new product from an ODCS contract
`)
		return errHelp
	}
	switch args[0] {
	case "test":
		return a.contractTestCmd(ctx, args[1:])
	case "breaking":
		return a.contractBreakingCmd(ctx, args[1:])
	case "import":
		return a.contractImportCmd(ctx, args[1:])
	}
	return usagef("contract: unknown command %q (run 'meshctl contract help')", args[0])
}

// contractTestCmd is `meshctl contract test`.
func (a *app) contractTestCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "contract test", args: "<product…> [--since 10m | --last N] [--min-events N] [--output text|json|junit]",
		summary: "Reads each product's live stream without consuming it (an ephemeral ordered consumer) and\n" +
			"checks it against the contract registered in the catalog: payloads decode as the registered\n" +
			"schema, CloudEvents headers, the quality rules, freshness against the objective and volume.\n" +
			"Prints a report; exits 1 if any check fails. --all tests every registered product."})
	since := fs.String("since", "", "read the events stored since this `age` (10m, 2h) or RFC 3339 time")
	last := fs.Int("last", contracttest.DefaultLast, "without --since, read the newest `N` events")
	minEvents := fs.Int("min-events", 1, "the volume the window must hold, `N` events")
	output := fs.String("output", "", "report `format`: text (default), json or junit (-o json also gives json)")
	all := fs.Bool("all", false, "test every product registered in the catalog")
	names, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	format := strings.ToLower(*output)
	if format == "" {
		format = "text"
		if a.json() {
			format = "json"
		}
	}
	switch {
	case format != "text" && format != "json" && format != "junit":
		return usagef("contract test: --output %q: want text, json or junit", *output)
	case len(names) == 0 && !*all:
		return usagef("contract test: name one or more products like quality.clean-readings.v1, or --all")
	case *last < 1:
		return usagef("contract test: --last %d: want 1 or more", *last)
	case *minEvents < 0:
		return usagef("contract test: --min-events %d: want 0 or more", *minEvents)
	}
	opts := contracttest.Options{Last: *last, MinEvents: *minEvents, Now: a.now}
	if *since != "" {
		if opts.Since, err = parseSince(*since, a.now()); err != nil {
			return usagef("contract test: --since: %v", err)
		}
	}
	descs, err := a.contractProducts(ctx, names, *all)
	if err != nil {
		return err
	}
	js, done, err := a.jetStream(ctx, "meshctl contract test")
	if err != nil {
		return fmt.Errorf("contract test: %w", err)
	}
	defer done()
	var reports []contracttest.Report
	passed := true
	for _, d := range descs {
		rep, err := contracttest.Run(ctx, js, d, opts)
		if err != nil {
			return fmt.Errorf("contract test: %w", err)
		}
		reports = append(reports, rep)
		passed = passed && rep.Passed
	}
	switch format {
	case "json":
		err = contracttest.WriteJSON(a.stdout, reports)
	case "junit":
		err = contracttest.WriteJUnit(a.stdout, reports)
	default:
		for _, r := range reports {
			if err = r.WriteText(a.stdout); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if !passed {
		failed := 0
		for _, r := range reports {
			if !r.Passed {
				failed++
			}
		}
		return fmt.Errorf("contract test: %d of %d products failed: %w", failed, len(reports), errContract)
	}
	return nil
}

// contractProducts fetches the named products' descriptors, or every registered one.
func (a *app) contractProducts(ctx context.Context, names []string, all bool) ([]*platformv1.DataProductDescriptor, error) {
	if all {
		cctx, cancel := context.WithTimeout(ctx, catalogTimeout)
		defer cancel()
		client, done, err := a.catalogClient(cctx)
		if err != nil {
			return nil, err
		}
		defer done()
		products, err := listAll(cctx, client, nil)
		if err != nil {
			return nil, a.rpcErr("contract test --all", err)
		}
		for _, p := range products {
			names = append(names, p.GetName())
		}
	}
	var out []*platformv1.DataProductDescriptor
	for _, n := range names {
		d, err := a.product(ctx, "contract test", n)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// jetStream connects to NATS as the session's holder (or with the URL's own credentials) and
// returns a JetStream context and a function closing the connection.
func (a *app) jetStream(ctx context.Context, name string) (jetstream.JetStream, func(), error) {
	nopts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second)}
	if !strings.Contains(a.g.nats, "@") {
		tok, err := a.bearer(ctx)
		if err != nil {
			return nil, nil, err
		}
		cred := natsauth.Credentials{Subject: natsauth.SubjectOf(tok), Token: func() (string, error) { return tok, nil }}
		nopts = append(nopts, cred.Options()...)
	}
	nc, err := nats.Connect(a.g.nats, nopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s (set with --nats or NATS_URL): %w", a.g.nats, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}

// contractBreakingCmd is `meshctl contract breaking`.
func (a *app) contractBreakingCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "contract breaking", args: "<old> <new>",
		summary: "Lists the changes from old's payload schema to new's that break consumers (a removed or\n" +
			"renumbered field, a changed type or cardinality, a removed enum value …). Each of old and new\n" +
			"is a descriptor file (protojson .json or binary .binpb DataProductDescriptor) or the id of a\n" +
			"product registered in the catalog. Exits 0 when compatible, 1 when breaking, 2 on bad input."})
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("contract breaking: want <old> <new>, got %d arguments", len(pos))
	}
	var ds [2]*platformv1.DataProductDescriptor
	for i, p := range pos {
		if ds[i], err = a.descriptorAt(ctx, p); err != nil {
			return err
		}
	}
	changes, err := compat.Compare(ds[0].GetSchema(), ds[1].GetSchema())
	if err != nil {
		return usagef("contract breaking: %v", err)
	}
	if a.json() {
		type change struct{ Kind, Path, Description string }
		out := struct {
			Breaking bool     `json:"breaking"`
			Changes  []change `json:"changes"`
		}{Breaking: len(changes) > 0, Changes: []change{}}
		for _, c := range changes {
			out.Changes = append(out.Changes, change{string(c.Kind), c.Path, c.Description})
		}
		if err := a.printJSON(out); err != nil {
			return err
		}
	} else {
		if len(changes) == 0 {
			fmt.Fprintf(a.stdout, "compatible: no breaking changes from %s to %s\n", pos[0], pos[1])
		}
		for _, c := range changes {
			fmt.Fprintln(a.stdout, c.String())
		}
	}
	if len(changes) > 0 {
		return fmt.Errorf("contract breaking: %d breaking change(s) from %s to %s: publish a new major version instead: %w", len(changes), pos[0], pos[1], errContract)
	}
	return nil
}

// descriptorAt reads a descriptor file, or fetches a registered product when p names no file.
func (a *app) descriptorAt(ctx context.Context, p string) (*platformv1.DataProductDescriptor, error) {
	if _, err := os.Stat(p); err == nil {
		d, err := lint.ReadDescriptor(p)
		if err != nil {
			return nil, usagef("contract breaking: %v", err)
		}
		return d, nil
	}
	if strings.ContainsAny(p, `/\`) || strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".binpb") {
		return nil, usagef("contract breaking: %s: no such file", p)
	}
	return a.product(ctx, "contract breaking", p)
}
