// Package scaffold generates the starting files of new data products: from an ODCS contract
// (FromODCS), the payload's .proto and the Go declaration of the product.
package scaffold

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"meshwork.dev/platform/catalog/odcs"
)

// Starter is a new product's first files, to review and commit.
type Starter struct {
	// ProductID is <domain>.<product>.v<major>.
	ProductID string
	// ProtoPath is where the payload's file goes under contracts/proto.
	ProtoPath string
	// Proto is the payload's .proto source.
	Proto string
	// Go is the product's dataproduct.Product declaration.
	Go string
	// Notes are what could not be carried over and needs a decision.
	Notes []string
}

var kebab = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// FromODCS turns c's first schema object into a payload message and c's fundamentals, SLA
// and CEL quality rules into a product declaration. domain overrides c.Domain when set.
func FromODCS(c *odcs.Contract, domain string) (Starter, error) {
	if domain == "" {
		domain = c.Domain
	}
	domain = kebabCase(domain)
	name := kebabCase(c.Name)
	if name == "" && len(c.Schema) > 0 {
		name = kebabCase(c.Schema[0].Name)
	}
	switch {
	case !kebab.MatchString(domain):
		return Starter{}, fmt.Errorf("scaffold.FromODCS: domain %q: the contract names none usable; give one (kebab-case)", domain)
	case !kebab.MatchString(name):
		return Starter{}, fmt.Errorf("scaffold.FromODCS: name %q is not usable as a product name", c.Name)
	case len(c.Schema) == 0:
		return Starter{}, fmt.Errorf("scaffold.FromODCS: the contract has no schema object")
	}
	major := 1
	if v := strings.TrimPrefix(c.Version, "v"); v != "" {
		if n, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); err == nil && n > 0 {
			major = n
		}
	}
	s := Starter{ProductID: fmt.Sprintf("%s.%s.v%d", domain, name, major)}
	ver := "v" + strconv.Itoa(major)
	pkg := "mesh." + goIdent(domain) + "." + ver
	s.ProtoPath = "mesh/" + goIdent(domain) + "/" + ver + "/" + strings.ReplaceAll(name, "-", "_") + ".proto"
	obj := c.Schema[0]
	msgName := camel(obj.Name)
	if msgName == "" {
		msgName = camel(name)
	}
	g := &protoGen{notes: &s.Notes}
	body := g.message(msgName, obj.Description, obj.Properties, "")
	var imports string
	if g.timestamp {
		imports = "import \"google/protobuf/timestamp.proto\";\n\n"
	}
	s.Proto = fmt.Sprintf("syntax = \"proto3\";\n\npackage %s;\n\n%soption go_package = \"meshwork.dev/contracts/gen/go/mesh/%s/%s;%s%s\";\n\n%s",
		pkg, imports, goIdent(domain), ver, goIdent(domain), ver, body)
	s.Go = goDecl(c, domain, name, major, msgName, &s.Notes)
	return s, nil
}

type protoGen struct {
	timestamp bool
	notes     *[]string
}

// message renders one message and its nested messages.
func (g *protoGen) message(name, doc string, props []odcs.Property, indent string) string {
	var b strings.Builder
	if doc != "" {
		fmt.Fprintf(&b, "%s// %s\n", indent, oneLine(doc))
	} else {
		fmt.Fprintf(&b, "%s// %s is one event. (Describe what it means.)\n", indent, name)
	}
	fmt.Fprintf(&b, "%smessage %s {\n", indent, name)
	for i, p := range props {
		field := snake(p.Name)
		if field == "" {
			*g.notes = append(*g.notes, fmt.Sprintf("%s: property %d has no usable name and was left out", name, i+1))
			continue
		}
		typ, nested := g.fieldType(p, name+"."+field, indent+"  ")
		b.WriteString(nested)
		if p.Description != "" {
			fmt.Fprintf(&b, "%s  // %s\n", indent, oneLine(p.Description))
		} else {
			fmt.Fprintf(&b, "%s  // %s.\n", indent, field)
		}
		fmt.Fprintf(&b, "%s  %s %s = %d;\n", indent, typ, field, i+1)
	}
	fmt.Fprintf(&b, "%s}\n", indent)
	return b.String()
}

// scalars maps ODCS logical types, and proto scalar physical types, to proto types.
var scalars = map[string]string{
	"string": "string", "integer": "int64", "number": "double", "boolean": "bool",
	"int32": "int32", "int64": "int64", "uint32": "uint32", "uint64": "uint64", "double": "double",
	"float": "float", "bool": "bool", "bytes": "bytes", "sint32": "sint32", "sint64": "sint64",
}

func (g *protoGen) fieldType(p odcs.Property, path, indent string) (typ, nested string) {
	if t, ok := scalars[p.PhysicalType]; ok {
		return t, ""
	}
	switch p.LogicalType {
	case "date", "timestamp", "time":
		g.timestamp = true
		return "google.protobuf.Timestamp", ""
	case "array":
		if p.Items == nil {
			*g.notes = append(*g.notes, path+": an array without items became repeated string")
			return "repeated string", ""
		}
		t, n := g.fieldType(*p.Items, path, indent)
		if strings.HasPrefix(t, "repeated ") {
			*g.notes = append(*g.notes, path+": nested arrays became a repeated message field to decide on")
			return "repeated string", ""
		}
		return "repeated " + t, n
	case "object":
		if len(p.Properties) == 0 {
			*g.notes = append(*g.notes, path+": an object without properties became string (JSON)")
			return "string", ""
		}
		name := camel(p.Name)
		if name == "" {
			name = "Item"
		}
		return name, g.message(name, "", p.Properties, indent)
	}
	if t, ok := scalars[p.LogicalType]; ok {
		return t, ""
	}
	*g.notes = append(*g.notes, fmt.Sprintf("%s: logical type %q became string", path, p.LogicalType))
	return "string", ""
}

// goDecl renders the dataproduct.Product declaration.
func goDecl(c *odcs.Contract, domain, name string, major int, msg string, notes *[]string) string {
	var b strings.Builder
	owner := domain + "-team"
	if c.Team != nil && c.Team.Name != "" {
		owner = c.Team.Name
	} else if c.Team != nil && len(c.Team.Members) > 0 {
		owner = c.Team.Members[0].Username
	}
	contact := "#" + domain
	if len(c.Support) > 0 && c.Support[0].Channel != "" {
		contact = c.Support[0].Channel
	}
	fmt.Fprintf(&b, "// %s is the %s product, started from the ODCS contract %s.\n", camel(name), name, c.ID)
	fmt.Fprintf(&b, "var %s = dataproduct.Product{\n", camel(name))
	fmt.Fprintf(&b, "\tDomain: %q, Name: %q, Major: %d,\n", domain, name, major)
	fmt.Fprintf(&b, "\tOwner: %q, Contact: %q,\n", owner, contact)
	if c.Description.Purpose != "" {
		fmt.Fprintf(&b, "\tDescription: %q,\n", oneLine(c.Description.Purpose))
	}
	if len(c.Tags) > 0 {
		fmt.Fprintf(&b, "\tTags: %#v,\n", c.Tags)
	}
	fmt.Fprintf(&b, "\tMessage: &%sv%d.%s{},\n", goIdent(domain), major, msg)
	b.WriteString("\tClassification: dataproduct.ClassInternal,\n")
	for _, p := range c.SLAProperties {
		d, ok := duration(p.Value, p.Unit)
		switch {
		case !ok:
			*notes = append(*notes, fmt.Sprintf("SLA %s: unit %q not understood", p.Property, p.Unit))
		case p.Property == "freshness" || p.Property == "latency":
			fmt.Fprintf(&b, "\tFreshness: %s,\n", d)
		case p.Property == "retention":
			fmt.Fprintf(&b, "\tRetention: %s,\n", d)
		default:
			*notes = append(*notes, "SLA "+p.Property+" has no product setting")
		}
	}
	var rules []string
	for _, o := range c.Schema {
		for _, q := range o.Quality {
			if q.Type != "custom" || q.Engine != "cel" {
				*notes = append(*notes, fmt.Sprintf("quality %q of type %s is not a CEL rule: rewrite it as one", cmp.Or(q.Name, q.ID, q.Description), cmp.Or(q.Type, "library")))
				continue
			}
			policy := "rules.Reject"
			for _, cp := range q.CustomProperties {
				if cp.Property == "policy" {
					switch cp.Value {
					case "dead-letter":
						policy = "rules.DeadLetter"
					case "count":
						policy = "rules.Count"
					}
				}
			}
			if q.Severity == "warning" || q.Severity == "info" {
				policy = "rules.Count"
			}
			id := kebabCase(q.ID)
			if id == "" {
				id = kebabCase(q.Name)
			}
			rules = append(rules, fmt.Sprintf("\t\t{ID: %q, Description: %q, Expr: %q, Policy: %s, Dimension: %q},\n", id, q.Description, q.Implementation, policy, q.Dimension))
		}
	}
	if len(rules) > 0 {
		b.WriteString("\tRules: []rules.Rule{\n")
		for _, r := range rules {
			b.WriteString(r)
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func duration(v int64, unit string) (string, bool) {
	switch strings.ToLower(unit) {
	case "y", "yr", "year", "years":
		return fmt.Sprintf("%d * 365 * 24 * time.Hour", v), true
	case "d", "day", "days":
		return fmt.Sprintf("%d * 24 * time.Hour", v), true
	case "h", "hour", "hours":
		return fmt.Sprintf("%d * time.Hour", v), true
	case "m", "min", "minute", "minutes":
		return fmt.Sprintf("%d * time.Minute", v), true
	case "s", "sec", "second", "seconds":
		return fmt.Sprintf("%d * time.Second", v), true
	case "ms", "millisecond", "milliseconds":
		return fmt.Sprintf("%d * time.Millisecond", v), true
	}
	return "", false
}

// words splits s at non-alphanumerics and lower-to-upper case changes.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = nil
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	// An identifier starts with a letter.
	for len(out) > 0 && !unicode.IsLetter([]rune(out[0])[0]) {
		out = out[1:]
	}
	return out
}

func kebabCase(s string) string { return strings.Join(words(s), "-") }
func snake(s string) string     { return strings.Join(words(s), "_") }
func goIdent(s string) string   { return strings.Join(words(s), "") }

func camel(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
