package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NewProduct adds product (kebab-case) to the existing domain under root: its payload
// message (message, or one named after the product) in the domain's v1 proto package, its
// declaration and outbox message builder in domains/<domain>/stream, a test of both, and the
// product in the domain's stream.Products, so the domain provisions and registers it. A
// domain without a one-line `var Products = []dataproduct.Product{…}` gets a note saying to
// list it by hand. It returns the paths written, relative to root, and the notes.
func NewProduct(root, domain, product, message string) (written, notes []string, err error) {
	v, problems := productVars(domain, product, message)
	proto := filepath.Join("contracts", "proto", "mesh", domain, "v1")
	streamDir := filepath.Join("domains", domain, "stream")
	switch {
	case !domainName.MatchString(domain):
		problems = append(problems, fmt.Sprintf("domain %q: want lower-case letters and digits", domain))
	case !exists(filepath.Join(root, streamDir)) || !exists(filepath.Join(root, proto)):
		problems = append(problems, fmt.Sprintf("domain %q: no %s and %s (create it with `meshctl new domain %s`)", domain, streamDir, proto, domain))
	case len(problems) == 0 && protoDeclares(filepath.Join(root, proto), v.Msg):
		problems = append(problems, fmt.Sprintf("--message %s: mesh.%s.v1 declares it already; choose another", v.Msg, domain))
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	out := map[string][]byte{}
	for _, f := range []struct{ tmpl, path string }{
		{"extra.proto", filepath.Join(proto, v.ProductSnake+".proto")},
		{"extra.go", filepath.Join(streamDir, v.ProductSnake+".go")},
		{"extra_test.go", filepath.Join(streamDir, v.ProductSnake+"_test.go")},
	} {
		if out[f.path], err = render(f.tmpl, f.path, v); err != nil {
			return nil, nil, err
		}
	}
	list, listed, err := listProduct(root, streamDir, v.ProductVar)
	if err != nil {
		return nil, nil, err
	}
	written, err = writeAll(root, out)
	if err != nil {
		return written, nil, err
	}
	if list == "" {
		return written, []string{fmt.Sprintf("add stream.%s to the products %s provisions and registers", v.ProductVar, domain)}, nil
	}
	if err := os.WriteFile(filepath.Join(root, list), listed, 0o644); err != nil {
		return written, nil, fmt.Errorf("scaffold: %w", err)
	}
	return append(written, list), nil, nil
}

// listProduct finds the file of dir that declares `var Products = []dataproduct.Product{…}`
// on one line and returns it with name appended to the list ("" if there is none).
func listProduct(root, dir, name string) (path string, src []byte, err error) {
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return "", nil, fmt.Errorf("scaffold: %w", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return "", nil, fmt.Errorf("scaffold: %w", err)
		}
		m := productList.FindSubmatchIndex(b)
		if m == nil {
			continue
		}
		items := strings.TrimSpace(string(b[m[2]:m[3]]))
		if items != "" {
			items += ", "
		}
		out := string(b[:m[2]]) + items + name + string(b[m[3]:])
		return p, []byte(out), nil
	}
	return "", nil, nil
}
