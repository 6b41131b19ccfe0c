package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/reflect/protoregistry"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/rule"
	"meshwork.dev/platform/meshctl/lint"
)

// contractsPrefix selects the contracts' own proto files in the global registry.
const contractsPrefix = "mesh/"

// lintCmd is `meshctl lint`.
func (a *app) lintCmd(ctx context.Context, args []string) error {
	spec := cmdSpec{name: "lint", args: "[paths…] [--contracts] [--catalog[=ADDR]]", ownCatalogFlag: true,
		summary: "Checks data products against the governance rules, offline:\n" +
			"  paths        descriptor files (protojson .json or binary .binpb DataProductDescriptor),\n" +
			"               or directories, for every *.json and *.binpb under them\n" +
			"  --contracts  every message compiled into meshctl from the contracts module: fields that\n" +
			"               look personal must be marked (mesh.platform.v1.pii)\n" +
			"  --catalog    every product registered in the catalog (its address: --catalog=ADDR,\n" +
			"               the global --catalog or CATALOG_ADDR)\n" +
			"Prints RULE SEVERITY FIELD MESSAGE (hint) per finding; exits 1 if any finding is an error."}
	fs := a.newFlags(spec)
	contracts := fs.Bool("contracts", false, "lint the messages of the contracts module")
	fromCatalog := &catalogSwitch{addr: &a.g.catalog}
	fs.Var(fromCatalog, "catalog", "lint every product registered in the catalog (--catalog=ADDR to name it)")
	paths, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 && !*contracts && !fromCatalog.on {
		return usagef("lint: nothing to lint: give descriptor files or directories, --contracts or --catalog")
	}

	var findings []lint.Finding
	var checked []string
	if len(paths) > 0 {
		n, found, err := lint.Files(paths)
		if err != nil {
			return fmt.Errorf("lint: %w", err)
		}
		findings = append(findings, found...)
		checked = append(checked, plural(n, "descriptor file"))
	}
	if *contracts {
		n, found := lint.Contracts(protoregistry.GlobalFiles, contractsPrefix)
		findings = append(findings, found...)
		checked = append(checked, plural(n, "contracts message"))
	}
	if fromCatalog.on {
		n, found, err := a.lintCatalog(ctx)
		if err != nil {
			return err
		}
		findings = append(findings, found...)
		checked = append(checked, plural(n, "registered product"))
	}
	if err := a.printFindings(checked, findings); err != nil {
		return err
	}
	if lint.HasErrors(findings) {
		return errors.New("lint: " + countSeverities(findings))
	}
	return nil
}

// catalogSwitch is lint's --catalog: "--catalog" alone turns it on, "--catalog=ADDR" also
// sets the catalog address.
type catalogSwitch struct {
	on   bool
	addr *string
}

// String implements flag.Value.
func (c *catalogSwitch) String() string {
	if c == nil || !c.on {
		return ""
	}
	return "true"
}

// Set implements flag.Value: a boolean switches, anything else is the address.
func (c *catalogSwitch) Set(v string) error {
	if b, err := strconv.ParseBool(v); err == nil {
		c.on = b
		return nil
	}
	c.on, *c.addr = true, v
	return nil
}

// IsBoolFlag lets --catalog stand without a value.
func (c *catalogSwitch) IsBoolFlag() bool { return true }

// lintCatalog checks every product registered in the catalog.
func (a *app) lintCatalog(ctx context.Context) (int, []lint.Finding, error) {
	ctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	client, done, err := a.catalogClient(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer done()
	products, err := listAll(ctx, client, nil)
	if err != nil {
		return 0, nil, a.rpcErr("lint --catalog", err)
	}
	var out []lint.Finding
	for _, p := range products {
		resp, err := client.GetProduct(ctx, &platformv1.GetProductRequest{Name: p.GetName()})
		if err != nil {
			return 0, nil, a.rpcErr("lint --catalog: "+p.GetName(), err)
		}
		out = append(out, lint.Descriptor("catalog:"+p.GetName(), resp.GetDescriptor_())...)
	}
	return len(products), out, nil
}

// printFindings prints the findings grouped by source, then a summary line; or, with
// -o json, {"checked": [...], "findings": [...]}.
func (a *app) printFindings(checked []string, findings []lint.Finding) error {
	if a.json() {
		if findings == nil {
			findings = []lint.Finding{}
		}
		return a.printJSON(map[string]any{"checked": checked, "findings": findings})
	}
	source := ""
	w := newTable(a.stdout)
	for _, f := range findings {
		if f.Source != source {
			_ = w.Flush()
			source = f.Source
			fmt.Fprintln(a.stdout, source)
		}
		row(w, "  "+f.Rule, string(f.Severity), f.Field, f.Message+" (hint: "+f.Hint+")")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	summary := "no findings"
	if len(findings) > 0 {
		summary = countSeverities(findings)
	}
	fmt.Fprintf(a.stdout, "checked %s: %s\n", listOrDash(checked), summary)
	return nil
}

// countSeverities is "2 errors, 1 warning".
func countSeverities(findings []lint.Finding) string {
	var errs, warns int
	for _, f := range findings {
		if f.Severity == rule.Error {
			errs++
		} else {
			warns++
		}
	}
	return plural(errs, "error") + ", " + plural(warns, "warning")
}

// plural is "1 error", "2 errors".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
