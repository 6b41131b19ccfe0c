package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"meshwork.dev/platform/launcher"
	"meshwork.dev/platform/meshctl/scaffold"
)

// newCmd is `meshctl new`: scaffold a domain or a product.
func (a *app) newCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(a.stdout, `usage: meshctl new <command> [flags] [arguments]

commands:
  domain   <name> [--product P] [--message M] [--consumes ID] [--consumes-message NAME] [--port N]
           a new domain module: proto package, cmd, core, postgres, rpc, stream, tests; in go.work and meshctl up
  product  <domain> <name> [--message M]   a new data product of an existing domain
`)
		return errHelp
	}
	switch args[0] {
	case "domain":
		return a.newDomainCmd(ctx, args[1:])
	case "product":
		return a.newProductCmd(ctx, args[1:])
	}
	return usagef("new: unknown command %q (run 'meshctl new help')", args[0])
}

func (a *app) newDomainCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "new domain", args: "<name> [flags]",
		summary: "Writes a new domain module in the repository (run it at the top, or give --root): its\n" +
			"proto package under contracts/proto, domains/<name> with cmd/, a core package, postgres,\n" +
			"rpc and stream, a product published through the outbox and registered with the catalog,\n" +
			"a consumer of another product, and tests against real servers; adds it to go.work and to\n" +
			"what meshctl up starts (domains/<name>/service.json). Then generates its Go code with\n" +
			"bin/buf if that is built (else: make proto)."})
	d := scaffold.Domain{}
	fs.StringVar(&d.Product, "product", scaffold.DefaultProduct, "first data product's `name` (kebab-case)")
	fs.StringVar(&d.Message, "message", "", "payload message `name` (default: from the product)")
	fs.StringVar(&d.Consumes, "consumes", scaffold.DefaultConsumes, "`product` id the domain consumes")
	fs.StringVar(&d.ConsumesMessage, "consumes-message", scaffold.DefaultConsumesMessage, "full protobuf `name` of that product's payload")
	fs.IntVar(&d.GRPCPort, "port", 0, "gRPC `port`; HTTP is 1000 above (default: after the highest taken)")
	root := fs.String("root", ".", "the repository's top `directory`")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("new domain: want one domain name, got %d arguments", len(pos))
	}
	d.Name = pos[0]
	if err := isRepo(*root); err != nil {
		return usagef("new domain: %v", err)
	}
	table, err := launcher.ServicesIn(*root)
	if err != nil {
		return fmt.Errorf("new domain: %w", err)
	}
	var used []int
	for _, s := range table {
		if s.GRPCPort != 0 {
			used = append(used, s.GRPCPort)
		}
	}
	written, err := scaffold.NewDomain(*root, d, used)
	for _, p := range written {
		fmt.Fprintln(a.stdout, "wrote", p)
	}
	if err != nil {
		return usagef("new domain: %v", err)
	}
	generated, err := generate(ctx, *root, d.Name)
	if err != nil {
		return fmt.Errorf("new domain: %w", err)
	}
	if !generated {
		fmt.Fprintf(a.stdout, "\nnext: make proto   # bin/buf is not built: generate contracts/gen/go/mesh/%s/v1\n", d.Name)
	}
	fmt.Fprintf(a.stdout, "\nthen: go test ./domains/%[1]s/...   # its own tests, against real Postgres and NATS\n"+
		"      make run                      # meshctl up starts %[1]s with the mesh\n", d.Name)
	return nil
}

func (a *app) newProductCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "new product", args: "<domain> <name> [--message M]",
		summary: "Adds a data product to an existing domain: its payload message in mesh.<domain>.v1,\n" +
			"its declaration and outbox message builder in domains/<domain>/stream, a test, and the\n" +
			"product in stream.Products (provisioned and registered at start)."})
	message := fs.String("message", "", "payload message `name` (default: from the product)")
	root := fs.String("root", ".", "the repository's top `directory`")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("new product: want <domain> <name>, got %d arguments", len(pos))
	}
	if err := isRepo(*root); err != nil {
		return usagef("new product: %v", err)
	}
	written, notes, err := scaffold.NewProduct(*root, pos[0], pos[1], *message)
	for _, p := range written {
		fmt.Fprintln(a.stdout, "wrote", p)
	}
	if err != nil {
		return usagef("new product: %v", err)
	}
	for _, n := range notes {
		fmt.Fprintln(a.stderr, "meshctl: note:", n)
	}
	generated, err := generate(ctx, *root, pos[0])
	if err != nil {
		return fmt.Errorf("new product: %w", err)
	}
	if !generated {
		fmt.Fprintln(a.stdout, "\nnext: make proto")
	}
	return nil
}

// isRepo checks that root is the top of the repository.
func isRepo(root string) error {
	for _, p := range []string{"go.work", "contracts/buf.gen.yaml", "platform/go.mod"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return fmt.Errorf("%s is not the repository's top (no %s); run it there or give --root", root, p)
		}
	}
	return nil
}

// generate runs the repository's pinned buf (bin/buf, built by `make tools`) on the domain's
// proto package; it reports false, doing nothing, when bin/buf is not built.
func generate(ctx context.Context, root, domain string) (bool, error) {
	buf, err := filepath.Abs(filepath.Join(root, "bin", "buf"))
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(buf); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	dir := filepath.Join(root, "contracts")
	for _, args := range [][]string{{"lint", "--path", "proto/mesh/" + domain}, {"generate", "--path", "proto/mesh/" + domain}} {
		cmd := exec.CommandContext(ctx, buf, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return false, fmt.Errorf("buf %s: %w\n%s", args[0], err, out)
		}
	}
	return true, nil
}
