package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/catalog/odps"
	"meshwork.dev/platform/catalog/protosrc"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/dataproduct/rules"
	"meshwork.dev/platform/errs"
)

// fieldRow is one payload field as the schema table shows it.
type fieldRow struct {
	Path, Type, Label, Class string
	PII                      bool
	Depth                    int
}

// fields lists the payload's fields with their types and PII marks.
func fields(d *platformv1.DataProductDescriptor) ([]fieldRow, error) {
	p, err := schema.Load(d.GetSchema())
	if err != nil {
		return nil, err
	}
	pii := map[string]bool{}
	for _, f := range d.GetPiiFields() {
		pii[f.GetPath()] = true
	}
	var out []fieldRow
	for _, f := range p.Fields() {
		marked, _ := schema.PII(f.Desc)
		out = append(out, fieldRow{
			Path: f.Path, Type: fieldType(f.Desc), Label: fieldLabel(f.Desc),
			Class: className(schema.EffectiveClassification(f.Desc)),
			PII:   marked || pii[f.Path], Depth: strings.Count(f.Path, "."),
		})
	}
	return out, nil
}

func fieldType(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map<" + fieldType(fd.MapKey()) + ", " + fieldType(fd.MapValue()) + ">"
	case fd.Message() != nil:
		return string(fd.Message().FullName())
	case fd.Enum() != nil:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

func fieldLabel(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map"
	case fd.IsList():
		return "repeated"
	case fd.HasPresence() && fd.ContainingOneof() == nil && fd.Message() == nil:
		return "optional"
	}
	return ""
}

// revision is one registered revision and what changed from the one before.
type revision struct {
	catalog.Entry
	Changes []string
}

// changesBetween lists, in words, what differs between two revisions of a contract.
func changesBetween(prev, next *platformv1.DataProductDescriptor) []string {
	var out []string
	add := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s: %q → %q", what, a, b))
		}
	}
	add("owner", prev.GetOwner(), next.GetOwner())
	add("contact", prev.GetContact(), next.GetContact())
	add("description", prev.GetDescription(), next.GetDescription())
	add("classification", className(prev.GetClassification()), className(next.GetClassification()))
	add("freshness objective", prev.GetFreshnessObjective().AsDuration().String(), next.GetFreshnessObjective().AsDuration().String())
	add("retention", prev.GetRetention().AsDuration().String(), next.GetRetention().AsDuration().String())
	add("tags", strings.Join(prev.GetTags(), ", "), strings.Join(next.GetTags(), ", "))
	add("upstreams", strings.Join(prev.GetUpstreams(), ", "), strings.Join(next.GetUpstreams(), ", "))
	before, after := fieldSet(prev), fieldSet(next)
	for _, f := range after {
		if !slices.Contains(before, f) {
			out = append(out, "field added: "+f)
		}
	}
	for _, f := range before {
		if !slices.Contains(after, f) {
			out = append(out, "field removed: "+f)
		}
	}
	return out
}

// fieldSet lists "path type" for each field, nil for a schema that does not load.
func fieldSet(d *platformv1.DataProductDescriptor) []string {
	rows, err := fields(d)
	if err != nil {
		return nil
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Path + " " + r.Type
	}
	return out
}

// productData is the product page's data.
type productData struct {
	Detail      catalog.Detail
	Fields      []fieldRow
	Chart       template.HTML
	ChartErr    string
	Versions    []catalog.Summary
	Revisions   []revision
	Files       []protosrc.File
	Access      *accessPanel
	HasPIIField bool
	Rules       []ruleRow
}

// ruleRow is one quality rule with its violation counts.
type ruleRow struct {
	ID, Description, Expr, Policy, Dimension string
	Publish, Consume                         uint64
	// ByConsumer is "<domain>: <n>" per consuming domain that recorded violations.
	ByConsumer []string
}

// ruleRows joins the declared rules with the observed violation counts.
func ruleRows(d *platformv1.DataProductDescriptor, o catalog.Observed) []ruleRow {
	var out []ruleRow
	for _, r := range d.GetRules() {
		row := ruleRow{
			ID: r.GetId(), Description: r.GetDescription(), Expr: r.GetExpression(),
			Policy: rules.Policy(r.GetPolicy()).String(), Dimension: r.GetDimension(),
		}
		for _, v := range o.Violations {
			if v.Rule != r.GetId() {
				continue
			}
			switch v.Side {
			case dataproduct.SidePublish:
				row.Publish += v.Count
			case dataproduct.SideConsume:
				row.Consume += v.Count
				row.ByConsumer = append(row.ByConsumer, fmt.Sprintf("%s: %d", v.Reporter, v.Count))
			}
		}
		out = append(out, row)
	}
	return out
}

func (c *Console) product(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d, err := c.cfg.Catalog.Detail(r.Context(), name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	desc := d.Entry.Descriptor
	pd := productData{Detail: d}
	if pd.Fields, err = fields(desc); err != nil {
		c.fail(w, r, errs.Wrap("web.product", err))
		return
	}
	for _, f := range pd.Fields {
		pd.HasPIIField = pd.HasPIIField || f.PII
	}
	if pd.Files, err = protosrc.Render(desc.GetSchema().GetFileDescriptorSet()); err != nil {
		c.fail(w, r, errs.Wrap("web.product", err))
		return
	}
	if d.Observed.StreamExists {
		bs, err := eventBuckets(r.Context(), c.cfg.JetStream, desc.GetStream(), c.cfg.Now())
		if err != nil {
			pd.ChartErr = err.Error()
		} else {
			pd.Chart = drawChart(bs)
		}
	}
	pd.Rules = ruleRows(desc, d.Observed)
	pd.Versions = c.versions(r, desc)
	pd.Revisions = c.revisions(r, name)
	pd.Access = c.accessPanel(r, desc)
	c.render(w, r, "product", name, "search", pd)
}

// versions are the registered major versions of the same product, this one included.
func (c *Console) versions(r *http.Request, d *platformv1.DataProductDescriptor) []catalog.Summary {
	page, err := c.cfg.Catalog.List(r.Context(), catalog.Query{Filter: catalog.Filter{Domain: d.GetDomain()}, PageSize: catalog.MaxPageSize})
	if err != nil {
		c.log.WarnContext(r.Context(), "web console: versions", "product", d.GetName(), "err", err)
		return nil
	}
	prefix := d.GetDomain() + "." + d.GetProduct() + ".v"
	var out []catalog.Summary
	for _, s := range page.Products {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// revisions are the product's revisions, newest first, each with its changes.
func (c *Console) revisions(r *http.Request, name string) []revision {
	if c.cfg.Revisions == nil {
		return nil
	}
	es, err := c.cfg.Revisions(r.Context(), name)
	if err != nil {
		c.log.WarnContext(r.Context(), "web console: revisions", "product", name, "err", err)
		return nil
	}
	out := make([]revision, len(es))
	for i, e := range es {
		out[len(es)-1-i] = revision{Entry: e}
		if i > 0 {
			out[len(es)-1-i].Changes = changesBetween(es[i-1].Descriptor, e.Descriptor)
		}
	}
	return out
}

// odcsExport serves the product's Open Data Contract Standard document.
func (c *Console) odcsExport(w http.ResponseWriter, r *http.Request) {
	e, err := c.cfg.Catalog.Product(r.Context(), r.PathValue("name"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	doc, err := odcs.Render(e, c.cfg.ODCS)
	if err != nil {
		c.fail(w, r, errs.Wrap("web.odcs", err))
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	_, _ = w.Write(doc)
}

// odpsExport serves the product as an Open Data Product Standard document: the product as
// its output port, its upstreams as input ports.
func (c *Console) odpsExport(w http.ResponseWriter, r *http.Request) {
	e, err := c.cfg.Catalog.Product(r.Context(), r.PathValue("name"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	known := map[string]catalog.Entry{}
	for _, u := range e.Descriptor.GetUpstreams() {
		if ue, err := c.cfg.Catalog.Product(r.Context(), u); err == nil {
			known[u] = ue
		}
	}
	doc, err := odps.Render(e.Descriptor.GetName(), []catalog.Entry{e}, known)
	if err != nil {
		c.fail(w, r, errs.Wrap("web.odps", err))
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	_, _ = w.Write(doc)
}
