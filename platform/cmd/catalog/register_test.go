package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/changes"
	"meshwork.dev/platform/catalogclient"
	"meshwork.dev/platform/dataproduct"
)

// summaries is declared like a domain declares its products, with a contract payload.
var summaries = dataproduct.Product{
	Domain: "quality", Name: "summaries", Major: 1,
	Owner: "quality-team", Contact: "quality@example.com",
	Description:    "Summaries of the products quality watches, for its dashboards.",
	Tags:           []string{"dashboards"},
	Message:        &platformv1.ProductSummary{},
	Classification: dataproduct.ClassInternal,
	Freshness:      2 * time.Second,
	KeyDescription: "product id",
}

// plans derives from summaries and from a files product nobody registered.
var plans = dataproduct.Product{
	Domain: "scheduling", Name: "plans", Major: 1,
	Owner: "scheduling-team", Contact: "#scheduling",
	Description:    "Maintenance plans drawn from quality summaries and engineers' reports.",
	Message:        &platformv1.ProductChanged{},
	Classification: dataproduct.ClassInternal,
	Freshness:      time.Hour,
	Upstreams:      []string{"quality.summaries.v1", "files.reports.v1"},
}

var withNote = append(slices.Clone(catalogtest.BaseFields), catalogtest.Field{Name: "note", Number: 4, Type: catalogtest.String})

func TestRegistration(t *testing.T) {
	t.Parallel()
	c := start(t)

	// A domain registers its products with the client it uses at start-up.
	if err := catalogclient.Register(c.ctx, c.svcConn, summaries, plans); err != nil {
		t.Fatal(err)
	}
	again := c.register(t, summaries.Descriptor())
	if again.GetChanged() || again.GetRevision() != 1 {
		t.Errorf("re-registering unchanged: changed %v revision %d, want false 1", again.GetChanged(), again.GetRevision())
	}

	lab := c.register(t, catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...))
	added := c.register(t, catalogtest.Descriptor("lab.readings.v1", withNote...))
	if !lab.GetChanged() || lab.GetRevision() != 1 || !added.GetChanged() || added.GetRevision() != 2 {
		t.Errorf("compatible addition: %v then %v, want revision 1 then 2, both changed", lab, added)
	}

	// value removed, unit retyped: refused with every change listed.
	broken := catalogtest.Descriptor("lab.readings.v1", catalogtest.Field{Name: "machine_id", Number: 1, Type: catalogtest.String},
		catalogtest.Field{Name: "unit", Number: 3, Type: catalogtest.Int32}, catalogtest.Field{Name: "note", Number: 4, Type: catalogtest.String})
	_, err := c.svc.RegisterProduct(c.ctx, &platformv1.RegisterProductRequest{Descriptor_: broken})
	got, details := code(err)
	var subjects []string
	for _, d := range details {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.GetViolations() {
				if v.GetType() != "BREAKING_CHANGE" || v.GetDescription() == "" {
					t.Errorf("violation %v", v)
				}
				subjects = append(subjects, v.GetSubject())
			}
		}
	}
	if got != codes.FailedPrecondition || !slices.Equal(subjects, []string{"mesh.lab.v1.Payload.value", "mesh.lab.v1.Payload.unit"}) {
		t.Errorf("breaking change: %v with subjects %v, want FailedPrecondition for value and unit", err, subjects)
	}

	// Governance: no owner, and an email field not marked PII.
	bad := catalogtest.Descriptor("crm.leads.v1", catalogtest.Field{Name: "email", Number: 1, Type: catalogtest.String})
	bad.Owner = ""
	_, err = c.svc.RegisterProduct(c.ctx, &platformv1.RegisterProductRequest{Descriptor_: bad})
	violations := badRequest(err)
	if got, _ := code(err); got != codes.InvalidArgument ||
		!strings.HasPrefix(violations["descriptor.owner"], "DP002: ") || !strings.HasPrefix(violations["descriptor.payload.email"], "DP005: ") ||
		!strings.Contains(violations["descriptor.payload.email"], "(hint: ") {
		t.Errorf("governance violation: %v with %v, want InvalidArgument naming DP002 and DP005 with hints", err, violations)
	}

	// Warnings do not block.
	short := catalogtest.Descriptor("lab.notes.v1", catalogtest.BaseFields...)
	short.Description = "Bench notes."
	if w := c.register(t, short).GetWarnings(); len(w) != 1 || w[0].GetRuleId() != "DP003" || w[0].GetHint() == "" {
		t.Errorf("warnings = %v, want one DP003", w)
	}

	// Access: registering needs the service (or admin) role; reads need a token (ADR 0005).
	if _, err := c.anon.RegisterProduct(c.ctx, &platformv1.RegisterProductRequest{Descriptor_: summaries.Descriptor()}); func() codes.Code { c, _ := code(err); return c }() != codes.Unauthenticated {
		t.Errorf("anonymous RegisterProduct: %v, want Unauthenticated", err)
	}
	if _, err := c.viewer.RegisterProduct(c.ctx, &platformv1.RegisterProductRequest{Descriptor_: summaries.Descriptor()}); func() codes.Code { c, _ := code(err); return c }() != codes.PermissionDenied {
		t.Errorf("viewer RegisterProduct: %v, want PermissionDenied", err)
	}
	for name, call := range map[string]func() error{
		"GetProduct": func() error {
			_, err := c.anon.GetProduct(c.ctx, &platformv1.GetProductRequest{Name: changes.Product.ID()})
			return err
		},
		"ListProducts": func() error { _, err := c.anon.ListProducts(c.ctx, &platformv1.ListProductsRequest{}); return err },
		"GetLineage": func() error {
			_, err := c.anon.GetLineage(c.ctx, &platformv1.GetLineageRequest{Name: changes.Product.ID()})
			return err
		},
		"ExportProduct": func() error {
			_, err := c.anon.ExportProduct(c.ctx, &platformv1.ExportProductRequest{Name: changes.Product.ID()})
			return err
		},
	} {
		if got, _ := code(call()); got != codes.Unauthenticated {
			t.Errorf("anonymous %s: %v, want Unauthenticated", name, got)
		}
	}
	if _, err := c.viewer.GetProduct(c.ctx, &platformv1.GetProductRequest{Name: "nobody.nothing.v1"}); func() codes.Code { c, _ := code(err); return c }() != codes.NotFound {
		t.Errorf("unknown product: %v, want NotFound", err)
	}

	// The catalog registered its own product, and every change above landed on it.
	own, err := c.viewer.GetProduct(c.ctx, &platformv1.GetProductRequest{Name: changes.Product.ID()})
	if err != nil || own.GetDescriptor_().GetStream() != "CATALOG_PRODUCT_CHANGES_V1" || !own.GetObserved().GetStreamExists() {
		t.Fatalf("the catalog's own product: %v %v", own, err)
	}
	want := []*platformv1.ProductChanged{
		{Name: "quality.summaries.v1", Domain: "quality", Revision: 1, Kind: platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_REGISTERED},
		{Name: "lab.readings.v1", Domain: "lab", Revision: 2, Kind: platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_UPDATED},
		{Name: changes.Product.ID(), Domain: "catalog", Revision: 1, Kind: platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_REGISTERED},
	}
	for _, w := range want {
		poll(t, "ProductChanged for "+w.GetName(), func() bool { return c.findEvent(t, w) })
	}
}

// findEvent reports whether the product-changes stream holds an event matching w's name,
// domain, revision and kind, on the subject keyed by the domain.
func (c *catalogUnderTest) findEvent(t *testing.T, w *platformv1.ProductChanged) bool {
	t.Helper()
	s, err := c.js.Stream(c.ctx, changes.Product.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(c.ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ev := &platformv1.ProductChanged{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			t.Fatal(err)
		}
		if ev.GetName() == w.GetName() && ev.GetDomain() == w.GetDomain() && ev.GetRevision() == w.GetRevision() &&
			ev.GetKind() == w.GetKind() && m.Subject == "dp.catalog.product-changes.v1."+w.GetDomain() &&
			m.Header.Get(dataproduct.HeaderType) == "mesh.platform.v1.ProductChanged" {
			return true
		}
	}
	return false
}
