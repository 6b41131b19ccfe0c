package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/meshctl/scaffold"
)

// contractImportCmd is `meshctl contract import`.
func (a *app) contractImportCmd(_ context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "contract import", args: "<contract.odcs.yaml> [--domain D] [--out DIR]",
		summary: "Starts a new data product from an ODCS v3 contract: its first schema object becomes the\n" +
			"payload message (.proto), its fundamentals, SLA and CEL quality rules the product's Go\n" +
			"declaration. Prints both (and what could not be carried over) or, with --out, writes\n" +
			"DIR/contracts/proto/<path>.proto and DIR/<product>.go."})
	domain := fs.String("domain", "", "owning `domain` (default: the contract's domain)")
	out := fs.String("out", "", "write the files under `DIR` instead of printing them")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("contract import: want one ODCS contract file, got %d arguments", len(pos))
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return usagef("contract import: %v", err)
	}
	c, err := odcs.Parse(data)
	if err != nil {
		return usagef("contract import: %s: %v", pos[0], err)
	}
	s, err := scaffold.FromODCS(c, *domain)
	if err != nil {
		return usagef("contract import: %s: %v", pos[0], err)
	}
	if *out == "" {
		fmt.Fprintf(a.stdout, "// product %s\n\n// contracts/proto/%s\n%s\n// Go declaration\n%s", s.ProductID, s.ProtoPath, s.Proto, s.Go)
	} else {
		protoPath := filepath.Join(*out, "contracts", "proto", filepath.FromSlash(s.ProtoPath))
		goPath := filepath.Join(*out, strings.ReplaceAll(strings.Split(s.ProductID, ".")[1], "-", "_")+".go")
		for path, body := range map[string]string{protoPath: s.Proto, goPath: s.Go} {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("contract import: %w", err)
			}
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				return fmt.Errorf("contract import: %w", err)
			}
			fmt.Fprintln(a.stdout, "wrote", path)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintln(a.stderr, "meshctl: note:", n)
	}
	return nil
}
