package scaffold

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

//go:embed domain/*.tmpl
var templates embed.FS

// Domain says what NewDomain generates.
type Domain struct {
	// Name is the domain: lower-case letters and digits, starting with a letter.
	Name string
	// Product is its first data product's name (kebab-case; default "records").
	Product string
	// Message is the product's payload message (default: the product in PascalCase, a
	// trailing "s" dropped: records → Record).
	Message string
	// Consumes is the product the domain consumes (default quality.machine-health.v1) and
	// ConsumesMessage its payload's full protobuf name (default mesh.quality.v1.MachineHealth).
	Consumes, ConsumesMessage string
	// GRPCPort is its gRPC port; its HTTP port is 1000 above. 0 picks the port after the
	// highest gRPC port in used.
	GRPCPort int
}

// Defaults of Domain.
const (
	DefaultProduct         = "records"
	DefaultConsumes        = "quality.machine-health.v1"
	DefaultConsumesMessage = "mesh.quality.v1.MachineHealth"
)

var (
	domainName  = regexp.MustCompile(`^[a-z][a-z0-9]{1,29}$`)
	messageName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,63}$`)
	productID   = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.v([1-9][0-9]*)$`)
	fullMessage = regexp.MustCompile(`^mesh\.([a-z][a-z0-9]*)\.(v[1-9][0-9]*)\.([A-Z][A-Za-z0-9]*)$`)
	productList = regexp.MustCompile(`(?m)^var Products = \[\]dataproduct\.Product\{([^}\n]*)\}`)
)

// reserved are names a domain or core package may not take: the platform's and the
// adapters' directories.
var reserved = []string{"platform", "catalog", "contracts", "governance", "mesh", "meshctl", "cmd", "postgres", "rpc", "stream", "sim", "testinfra"}

// vars is what the templates are filled with.
type vars struct {
	Domain, Pascal, Product, ProductSnake, ProductVar, ProductID, Msg, Core, Table string
	UpstreamID, UpstreamDomain, UpstreamName, UpstreamMajor                        string
	UpstreamAlias, UpstreamImport, UpstreamMsg                                     string
	GRPCPort, HTTPPort                                                             int
	GoVersion, Requires                                                            string
}

// NewDomain writes a new domain module under root (the repository: go.work, contracts/,
// platform/, domains/): its proto package, the module with cmd/, a core package, postgres,
// rpc and stream, its launcher entry (service.json), and adds it to go.work. used are the
// gRPC ports already taken (each with its HTTP port 1000 above). It writes nothing if any check fails, and never overwrites a
// file. It returns the paths written, relative to root.
func NewDomain(root string, d Domain, used []int) ([]string, error) {
	v, err := domainVars(root, d, used)
	if err != nil {
		return nil, err
	}
	proto := filepath.Join("contracts", "proto", "mesh", v.Domain, "v1")
	mod := filepath.Join("domains", v.Domain)
	files := []struct{ tmpl, path string }{
		{"service.proto", filepath.Join(proto, v.Domain+"_service.proto")},
		{"payload.proto", filepath.Join(proto, v.ProductSnake+".proto")},
		{"go.mod", filepath.Join(mod, "go.mod")},
		{"README.md", filepath.Join(mod, "README.md")},
		{"service.json", filepath.Join(mod, "service.json")},
		{"main.go", filepath.Join(mod, "cmd", v.Domain, "main.go")},
		{"main_test.go", filepath.Join(mod, "cmd", v.Domain, "main_test.go")},
		{"core.go", filepath.Join(mod, v.Core, v.Core+".go")},
		{"core_test.go", filepath.Join(mod, v.Core, v.Core+"_test.go")},
		{"store.go", filepath.Join(mod, "postgres", "store.go")},
		{"store_test.go", filepath.Join(mod, "postgres", "store_test.go")},
		{"migration.sql", filepath.Join(mod, "postgres", "migrations", "0001_"+v.Domain+".sql")},
		{"handler.go", filepath.Join(mod, "rpc", "handler.go")},
		{"convert.go", filepath.Join(mod, "rpc", "convert.go")},
		{"products.go", filepath.Join(mod, "stream", "products.go")},
		{"product.go", filepath.Join(mod, "stream", v.ProductSnake+".go")},
		{"consume.go", filepath.Join(mod, "stream", "consume.go")},
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := render(f.tmpl, f.path, v)
		if err != nil {
			return nil, err
		}
		out[f.path] = b
	}
	sum, err := os.ReadFile(filepath.Join(root, "platform", "go.sum"))
	if err != nil {
		return nil, fmt.Errorf("scaffold: %w", err)
	}
	out[filepath.Join(mod, "go.sum")] = sum
	work, err := addToWork(root, "./domains/"+v.Domain)
	if err != nil {
		return nil, err
	}
	written, err := writeAll(root, out)
	if err != nil {
		return written, err
	}
	if err := os.WriteFile(filepath.Join(root, "go.work"), work, 0o644); err != nil {
		return written, fmt.Errorf("scaffold: %w", err)
	}
	return append(written, "go.work"), nil
}

// domainVars checks d against root and fills the templates' variables.
func domainVars(root string, d Domain, used []int) (vars, error) {
	d.Product = cmp.Or(d.Product, DefaultProduct)
	d.Consumes = cmp.Or(d.Consumes, DefaultConsumes)
	d.ConsumesMessage = cmp.Or(d.ConsumesMessage, DefaultConsumesMessage)
	var problems []string
	switch {
	case !domainName.MatchString(d.Name):
		problems = append(problems, fmt.Sprintf("domain %q: want 2 to 30 lower-case letters and digits, starting with a letter", d.Name))
	case slices.Contains(reserved, d.Name) || token.IsKeyword(d.Name):
		problems = append(problems, fmt.Sprintf("domain %q: the name is reserved", d.Name))
	case exists(filepath.Join(root, "domains", d.Name)) || exists(filepath.Join(root, "contracts", "proto", "mesh", d.Name)):
		problems = append(problems, fmt.Sprintf("domain %q exists already (domains/%s or contracts/proto/mesh/%s)", d.Name, d.Name, d.Name))
	}
	v, pp := productVars(d.Name, d.Product, d.Message)
	problems = append(problems, pp...)
	up := productID.FindStringSubmatch(d.Consumes)
	msg := fullMessage.FindStringSubmatch(d.ConsumesMessage)
	switch {
	case up == nil:
		problems = append(problems, fmt.Sprintf("--consumes %q: want a product id <domain>.<product>.v<major>", d.Consumes))
	case up[1] == d.Name:
		problems = append(problems, fmt.Sprintf("--consumes %q: a domain consumes another domain's product", d.Consumes))
	case msg == nil:
		problems = append(problems, fmt.Sprintf("--consumes-message %q: want mesh.<domain>.v<major>.<Message>", d.ConsumesMessage))
	case !protoDeclares(filepath.Join(root, "contracts", "proto", "mesh", msg[1], msg[2]), msg[3]):
		problems = append(problems, fmt.Sprintf("--consumes-message %q: no such message under contracts/proto/mesh/%s/%s", d.ConsumesMessage, msg[1], msg[2]))
	}
	if d.GRPCPort == 0 {
		d.GRPCPort = slices.Max(append(slices.Clone(used), 7000)) + 1
	}
	taken := func(p int) bool {
		return slices.Contains(used, p) || slices.Contains(used, p-1000) || slices.Contains(used, p+1000)
	}
	if d.GRPCPort < 1024 || d.GRPCPort > 64535 || taken(d.GRPCPort) {
		problems = append(problems, fmt.Sprintf("--port %d: want a free port from 1024 to 64535 (taken: %v)", d.GRPCPort, used))
	}
	if len(problems) > 0 {
		return vars{}, errors.New(strings.Join(problems, "; "))
	}
	v.Pascal = pascal(d.Name)
	v.UpstreamID, v.UpstreamDomain, v.UpstreamName, v.UpstreamMajor = up[0], up[1], up[2], up[3]
	v.UpstreamAlias = msg[1] + msg[2]
	v.UpstreamImport = "meshwork.dev/contracts/gen/go/mesh/" + msg[1] + "/" + msg[2]
	v.UpstreamMsg = msg[3]
	v.GRPCPort, v.HTTPPort = d.GRPCPort, d.GRPCPort+1000
	var err error
	if v.GoVersion, v.Requires, err = platformRequires(root); err != nil {
		return vars{}, err
	}
	return v, nil
}

// productVars checks a product's names and fills the variables that come from them.
func productVars(domain, product, message string) (vars, []string) {
	var problems []string
	if !kebab.MatchString(product) || len(product) > 40 {
		problems = append(problems, fmt.Sprintf("product %q: want kebab-case, e.g. stock-levels", product))
	}
	if message == "" {
		message = pascal(product)
		if len(message) > 3 && strings.HasSuffix(message, "s") && !strings.HasSuffix(message, "ss") {
			message = strings.TrimSuffix(message, "s")
		}
	}
	core := strings.ToLower(message)
	switch {
	case !messageName.MatchString(message):
		problems = append(problems, fmt.Sprintf("--message %q: want a PascalCase protobuf message name", message))
	case token.IsKeyword(core) || slices.Contains(reserved, core) || core == domain:
		problems = append(problems, fmt.Sprintf("--message %q: its package name %q is reserved; choose another", message, core))
	}
	snake := strings.ReplaceAll(product, "-", "_")
	return vars{
		Domain: domain, Product: product, ProductSnake: snake, ProductVar: pascal(product),
		ProductID: domain + "." + product + ".v1", Msg: message, Core: core, Table: strconv.Quote(snake),
	}, problems
}

// render fills the template tmpl for path; Go files come out gofmt'ed.
func render(tmpl, path string, v vars) ([]byte, error) {
	t, err := template.ParseFS(templates, "domain/"+tmpl+".tmpl")
	if err != nil {
		return nil, fmt.Errorf("scaffold: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("scaffold: %s: %w", tmpl, err)
	}
	if strings.HasSuffix(path, ".go") {
		src, err := format.Source(b.Bytes())
		if err != nil {
			return nil, fmt.Errorf("scaffold: %s: %w", path, err)
		}
		return src, nil
	}
	return b.Bytes(), nil
}

// writeAll writes files under root, refusing to overwrite any.
func writeAll(root string, files map[string][]byte) ([]string, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		if exists(filepath.Join(root, p)) {
			return nil, fmt.Errorf("scaffold: %s exists; nothing written", p)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for i, p := range paths {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return paths[:i], fmt.Errorf("scaffold: %w", err)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return paths[:i], fmt.Errorf("scaffold: %w", err)
		}
	}
	return paths, nil
}

// platformRequires returns platform/go.mod's go version and its require blocks, less the
// workspace's own modules the template names: a domain needs what the platform needs.
func platformRequires(root string) (goVersion, requires string, err error) {
	b, err := os.ReadFile(filepath.Join(root, "platform", "go.mod"))
	if err != nil {
		return "", "", fmt.Errorf("scaffold: %w", err)
	}
	var out strings.Builder
	in := false
	for line := range strings.Lines(string(b)) {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "go "):
			goVersion = strings.TrimPrefix(t, "go ")
		case t == "require (":
			in = true
			out.WriteString(line)
		case in && t == ")":
			in = false
			out.WriteString(line + "\n")
		case in && (strings.HasPrefix(t, "meshwork.dev/contracts ") || strings.HasPrefix(t, "meshwork.dev/platform ")):
		case in:
			out.WriteString(line)
		}
	}
	if goVersion == "" {
		return "", "", errors.New("scaffold: platform/go.mod has no go line")
	}
	return goVersion, out.String(), nil
}

// addToWork returns go.work with dir added to its use block.
func addToWork(root, dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		return nil, fmt.Errorf("scaffold: %w", err)
	}
	s := string(b)
	start := strings.Index(s, "use (\n")
	if start < 0 {
		return nil, errors.New("scaffold: go.work has no `use (` block")
	}
	start += len("use (\n")
	end := strings.Index(s[start:], ")")
	if end < 0 {
		return nil, errors.New("scaffold: go.work's use block is not closed")
	}
	var uses []string
	for l := range strings.Lines(s[start : start+end]) {
		if t := strings.TrimSpace(l); t != "" {
			uses = append(uses, t)
		}
	}
	if slices.Contains(uses, dir) {
		return b, nil
	}
	uses = append(uses, dir)
	slices.Sort(uses)
	return []byte(s[:start] + "\t" + strings.Join(uses, "\n\t") + "\n" + s[start+end:]), nil
}

// protoDeclares reports whether a .proto file in dir declares message name.
func protoDeclares(dir, name string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	decl := regexp.MustCompile(`(?m)^message ` + regexp.QuoteMeta(name) + `\s*\{`)
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && strings.HasSuffix(e.Name(), ".proto") && decl.Match(b) {
			return true
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// pascal is kebab-case s in PascalCase.
func pascal(s string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(s, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
