package main

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/changes"
)

func productNames(ps []*platformv1.ProductSummary) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.GetName())
	}
	return out
}

func TestListAndSearch(t *testing.T) {
	t.Parallel()
	c := start(t)
	c.register(t, summaries.Descriptor())
	c.register(t, catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...))
	c.register(t, catalogtest.Descriptor("crm.contacts.v1",
		catalogtest.Field{Name: "contact_id", Number: 1, Type: catalogtest.String},
		catalogtest.Field{Name: "email", Number: 2, Type: catalogtest.String, PII: true}))
	for i := range 4 {
		c.register(t, catalogtest.Descriptor(fmt.Sprintf("lab.bench-%d.v1", i), catalogtest.Field{Name: "bench_id", Number: 1, Type: catalogtest.String}))
	}
	all := []string{"catalog.product-changes.v1", "crm.contacts.v1", "governance.access-changes.v1", "governance.audit.v1", "lab.bench-0.v1", "lab.bench-1.v1", "lab.bench-2.v1",
		"lab.bench-3.v1", "lab.readings.v1", "quality.summaries.v1"}
	yes := true
	tests := []struct {
		name   string
		filter *platformv1.ProductFilter
		want   []string
	}{
		{"everything", nil, all},
		{"domain", &platformv1.ProductFilter{Domain: "quality"}, []string{"quality.summaries.v1"}},
		{"owner", &platformv1.ProductFilter{Owner: "crm-team"}, []string{"crm.contacts.v1"}},
		{"classification", &platformv1.ProductFilter{Classification: platformv1.Classification_CLASSIFICATION_CONFIDENTIAL}, []string{"crm.contacts.v1", "governance.audit.v1"}},
		{"has pii", &platformv1.ProductFilter{HasPii: &yes}, []string{"crm.contacts.v1"}},
	}
	for _, tt := range tests {
		resp, err := c.viewer.ListProducts(c.ctx, &platformv1.ListProductsRequest{Filter: tt.filter})
		if err != nil {
			t.Fatal(err)
		}
		if got := productNames(resp.GetProducts()); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	// Pages of 3 cover everything once, in order.
	var paged []string
	token := ""
	for pages := 0; ; pages++ {
		resp, err := c.viewer.ListProducts(c.ctx, &platformv1.ListProductsRequest{PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, productNames(resp.GetProducts())...)
		if token = resp.GetNextPageToken(); token == "" || pages > len(all) {
			break
		}
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paged list %v, want %v", paged, all)
	}
	_, err := c.viewer.ListProducts(c.ctx, &platformv1.ListProductsRequest{PageToken: "garbage"})
	if got, _ := code(err); got != codes.InvalidArgument || badRequest(err)["page_token"] == "" {
		t.Errorf("bad page token: %v, want InvalidArgument naming page_token", err)
	}

	searches := []struct {
		query  string
		filter *platformv1.ProductFilter
		want   []string
	}{
		{"summaries", nil, []string{"quality.summaries.v1"}},
		{"dashboards", nil, []string{"quality.summaries.v1"}},                                 // a tag and a word of the description
		{"machine", nil, []string{"lab.readings.v1"}},                                         // a field name
		{"message_name", nil, []string{"catalog.product-changes.v1", "quality.summaries.v1"}}, // both payloads have it
		{"bench", &platformv1.ProductFilter{Domain: "crm"}, nil},
		{"email", &platformv1.ProductFilter{HasPii: &yes}, []string{"crm.contacts.v1"}},
	}
	for _, s := range searches {
		resp, err := c.viewer.SearchProducts(c.ctx, &platformv1.SearchProductsRequest{Query: s.query, Filter: s.filter})
		if err != nil {
			t.Fatal(err)
		}
		got := productNames(resp.GetProducts())
		slices.Sort(got)
		if !slices.Equal(got, s.want) {
			t.Errorf("search %q: %v, want %v", s.query, got, s.want)
		}
	}
	first, err := c.viewer.SearchProducts(c.ctx, &platformv1.SearchProductsRequest{Query: "bench", PageSize: 3})
	if err != nil || len(first.GetProducts()) != 3 || first.GetNextPageToken() == "" {
		t.Fatalf("first page of a search: %v %v", first, err)
	}
	second, err := c.viewer.SearchProducts(c.ctx, &platformv1.SearchProductsRequest{Query: "bench", PageSize: 3, PageToken: first.GetNextPageToken()})
	if err != nil || len(second.GetProducts()) != 1 || second.GetNextPageToken() != "" {
		t.Errorf("second page of a search: %v %v", second, err)
	}

	s := findSummary(t, c, "crm.contacts.v1")
	if !s.GetHasPii() || s.GetOwner() != "crm-team" || s.GetMessageName() != "mesh.crm.v1.Payload" || s.GetRevision() != 1 || s.GetUpdatedAt() == nil {
		t.Errorf("summary = %v", s)
	}
	if own := findSummary(t, c, changes.Product.ID()); own.GetDomain() != "catalog" {
		t.Errorf("own product summary = %v", own)
	}
}

func findSummary(t *testing.T, c *catalogUnderTest, name string) *platformv1.ProductSummary {
	t.Helper()
	resp, err := c.viewer.ListProducts(c.ctx, &platformv1.ListProductsRequest{PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.GetProducts() {
		if p.GetName() == name {
			return p
		}
	}
	t.Fatalf("%s is not listed", name)
	return nil
}
