package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
)

// fakeCatalog answers the catalog API from fixed data, one product per page so that
// meshctl's paging shows. It records the filters it was asked for.
type fakeCatalog struct {
	platformv1.UnimplementedCatalogServiceServer
	summaries []*platformv1.ProductSummary
	product   *platformv1.GetProductResponse

	mu      sync.Mutex
	filters []*platformv1.ProductFilter
	queries []string
}

// page returns the summary at the position the token names and the next token.
func (f *fakeCatalog) page(token string) ([]*platformv1.ProductSummary, string) {
	i := 0
	if token != "" {
		i = int(token[0] - '0')
	}
	if i >= len(f.summaries) {
		return nil, ""
	}
	next := ""
	if i+1 < len(f.summaries) {
		next = string(rune('0' + i + 1))
	}
	return f.summaries[i : i+1], next
}

func (f *fakeCatalog) ListProducts(_ context.Context, req *platformv1.ListProductsRequest) (*platformv1.ListProductsResponse, error) {
	f.mu.Lock()
	f.filters = append(f.filters, req.GetFilter())
	f.mu.Unlock()
	ps, next := f.page(req.GetPageToken())
	return &platformv1.ListProductsResponse{Products: ps, NextPageToken: next}, nil
}

func (f *fakeCatalog) SearchProducts(_ context.Context, req *platformv1.SearchProductsRequest) (*platformv1.SearchProductsResponse, error) {
	f.mu.Lock()
	f.queries = append(f.queries, req.GetQuery())
	f.mu.Unlock()
	ps, next := f.page(req.GetPageToken())
	return &platformv1.SearchProductsResponse{Products: ps, NextPageToken: next}, nil
}

func (f *fakeCatalog) GetProduct(_ context.Context, req *platformv1.GetProductRequest) (*platformv1.GetProductResponse, error) {
	if req.GetName() != f.product.GetDescriptor_().GetName() {
		return nil, status.Errorf(codes.NotFound, "product %q is not registered", req.GetName())
	}
	return f.product, nil
}

func (f *fakeCatalog) GetLineage(_ context.Context, req *platformv1.GetLineageRequest) (*platformv1.GetLineageResponse, error) {
	if req.GetDepth() != 2 {
		return &platformv1.GetLineageResponse{}, nil
	}
	return &platformv1.GetLineageResponse{
		Nodes: []*platformv1.LineageNode{
			{Id: "product:quality.clean-readings.v1", Kind: platformv1.LineageNodeKind_LINEAGE_NODE_KIND_PRODUCT, Name: "quality.clean-readings.v1"},
			{Id: "product:quality.machine-health.v1", Kind: platformv1.LineageNodeKind_LINEAGE_NODE_KIND_PRODUCT, Name: "quality.machine-health.v1"},
			{Id: "domain:scheduling", Kind: platformv1.LineageNodeKind_LINEAGE_NODE_KIND_DOMAIN, Name: "scheduling"},
		},
		Edges: []*platformv1.LineageEdge{
			{From: "product:quality.clean-readings.v1", To: "product:quality.machine-health.v1", Status: platformv1.LineageEdgeStatus_LINEAGE_EDGE_STATUS_CONFIRMED},
			{From: "product:quality.clean-readings.v1", To: "domain:scheduling", Status: platformv1.LineageEdgeStatus_LINEAGE_EDGE_STATUS_OBSERVED_ONLY},
			{From: "product:quality.machine-health.v1", To: "domain:scheduling", Status: platformv1.LineageEdgeStatus_LINEAGE_EDGE_STATUS_DECLARED_ONLY},
		},
	}, nil
}

func (f *fakeCatalog) ExportProduct(_ context.Context, req *platformv1.ExportProductRequest) (*platformv1.ExportProductResponse, error) {
	if req.GetFormat() != platformv1.ExportFormat_EXPORT_FORMAT_ODCS_V3_YAML {
		return nil, status.Error(codes.InvalidArgument, "unknown format")
	}
	return &platformv1.ExportProductResponse{ContentType: "application/yaml", Content: "apiVersion: v3.0.2\nkind: DataContract\nid: " + req.GetName()}, nil
}

// newFakeCatalog returns a catalog holding two products and the details of the first.
func newFakeCatalog() *fakeCatalog {
	desc := dataproduct.Product{
		Domain: "catalog", Name: "product-changes", Major: 1, Owner: "platform-team", Contact: "#platform",
		Description: "Every registration that created or changed a data product's contract.",
		Tags:        []string{"catalog", "governance"}, Message: &platformv1.ProductChanged{},
		Classification: dataproduct.ClassInternal, Freshness: time.Hour, KeyDescription: "owning domain",
		ServedBy: []string{"mesh.platform.v1.CatalogService"},
	}.Descriptor()
	desc.PiiFields = []*platformv1.PiiField{{Path: "owner", MessageName: "mesh.platform.v1.ProductChanged", Classification: platformv1.Classification_CLASSIFICATION_CONFIDENTIAL}}
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(fixedNow.Add(-d)) }
	return &fakeCatalog{
		summaries: []*platformv1.ProductSummary{
			{Name: "catalog.product-changes.v1", Domain: "catalog", Owner: "platform-team", Classification: platformv1.Classification_CLASSIFICATION_INTERNAL,
				MessageName: "mesh.platform.v1.ProductChanged", Description: "Every registration that created or changed a data product's contract."},
			{Name: "identity.users.v1", Domain: "identity", Owner: "identity-team", Classification: platformv1.Classification_CLASSIFICATION_CONFIDENTIAL,
				HasPii: true, MessageName: "mesh.identity.v1.UserChanged", Description: "Users"},
		},
		product: &platformv1.GetProductResponse{
			Descriptor_: desc,
			ProtoFiles: []*platformv1.ProtoFile{
				{Path: "mesh/platform/v1/catalog_events.proto", Source: "syntax = \"proto3\";\nmessage ProductChanged {}\n"},
				{Path: "mesh/platform/v1/options.proto", Source: "syntax = \"proto3\";"},
			},
			Revision: 3, RegisteredAt: at(48 * time.Hour), UpdatedAt: at(time.Hour),
			Observed: &platformv1.ObservedState{
				StreamExists: true, Messages: 1234, Bytes: 57446, FirstSequence: 1, LastSequence: 1234,
				LastMessageTime: at(5 * time.Minute),
				Freshness: &platformv1.Freshness{State: platformv1.FreshnessState_FRESHNESS_STATE_FRESH,
					Age: durationpb.New(5 * time.Minute), Objective: durationpb.New(time.Hour)},
				Consumers: []*platformv1.ConsumerState{{
					Name: "scheduling--catalog_product-changes_v1", ConsumerDomain: "scheduling",
					FilterSubjects: []string{"dp.catalog.product-changes.v1.>"}, NumPending: 42, NumAckPending: 1,
					NumRedelivered: 2, LastActive: at(3 * time.Second),
				}},
				ObservedAt: at(0),
			},
		},
	}
}

func TestCatalogList(t *testing.T) {
	t.Parallel()
	fake := newFakeCatalog()
	addr := startCatalog(t, fake)

	r := meshctl(t, "--catalog", addr, "catalog", "ls", "--domain", "identity", "--classification", "confidential", "--pii")
	r.wantCode(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("ls printed %d lines, want a header and a row per product on both pages:\n%s", len(lines), r.stdout)
	}
	for i, want := range [][]string{
		{"NAME", "OWNER", "CLASSIFICATION", "PII", "MESSAGE", "DESCRIPTION"},
		{"catalog.product-changes.v1", "platform-team", "internal", "no", "mesh.platform.v1.ProductChanged", "Every registration that created or changed a data product's…"},
		{"identity.users.v1", "identity-team", "confidential", "yes", "mesh.identity.v1.UserChanged", "Users"},
	} {
		if got := strings.Join(strings.Fields(lines[i]), " "); got != strings.Join(strings.Fields(strings.Join(want, " ")), " ") {
			t.Errorf("line %d = %q, want the cells %q", i, lines[i], want)
		}
	}
	fake.mu.Lock()
	f := fake.filters[0]
	fake.mu.Unlock()
	want := &platformv1.ProductFilter{Domain: "identity", Classification: platformv1.Classification_CLASSIFICATION_CONFIDENTIAL, HasPii: proto.Bool(true)}
	if !proto.Equal(f, want) {
		t.Errorf("filter sent %v, want %v", f, want)
	}

	r = meshctl(t, "catalog", "ls", "--no-pii", "-o", "json", "--catalog", addr)
	r.wantCode(t, 0)
	var products []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &products); err != nil {
		t.Fatalf("ls -o json is not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(products) != 2 || products[1]["name"] != "identity.users.v1" || products[1]["hasPii"] != true {
		t.Errorf("ls -o json = %v", products)
	}
}

func TestCatalogSearch(t *testing.T) {
	t.Parallel()
	fake := newFakeCatalog()
	addr := startCatalog(t, fake)
	r := meshctl(t, "catalog", "search", "product", "changes", "--catalog", addr, "--owner", "platform-team")
	r.wantCode(t, 0)
	if !strings.Contains(r.stdout, "identity.users.v1") || !strings.Contains(r.stdout, "catalog.product-changes.v1") {
		t.Errorf("search output lacks a product:\n%s", r.stdout)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.queries) == 0 || fake.queries[0] != "product changes" {
		t.Errorf("queries sent %q, want %q", fake.queries, "product changes")
	}
}

func TestCatalogShow(t *testing.T) {
	t.Parallel()
	addr := startCatalog(t, newFakeCatalog())
	r := meshctl(t, "catalog", "show", "catalog.product-changes.v1", "--catalog", addr)
	r.wantCode(t, 0)
	for _, want := range []string{
		"catalog.product-changes.v1  (revision 3, updated 2026-03-04T04:06:07Z (1h ago))",
		"owner                platform-team (#platform)",
		"classification       internal",
		"message              mesh.platform.v1.ProductChanged",
		"schema ref           urn:meshwork:schema:catalog.product-changes.v1:mesh.platform.v1.ProductChanged",
		"stream               CATALOG_PRODUCT_CHANGES_V1",
		"subjects             dp.catalog.product-changes.v1.>  (key: owning domain)",
		"retention            7d",
		"freshness objective  1h",
		"served by            mesh.platform.v1.CatalogService",
		"tags                 catalog, governance",
		"  owner  mesh.platform.v1.ProductChanged  confidential",
		"  messages      1234",
		"  bytes         56.1 KiB",
		"  sequences     1–1234",
		"  last message  2026-03-04T05:01:07Z (5m ago)",
		"  freshness     fresh (age 5m, objective 1h)",
		"  scheduling--catalog_product-changes_v1  scheduling  dp.catalog.product-changes.v1.>  42   1            2            2026-03-04T05:06:04Z (3s ago)",
	} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("show lacks line %q:\n%s", want, r.stdout)
		}
	}

	r = meshctl(t, "catalog", "show", "catalog.product-changes.v1", "--proto", "--catalog", addr)
	r.wantCode(t, 0)
	want := "// ==> mesh/platform/v1/catalog_events.proto <==\nsyntax = \"proto3\";\nmessage ProductChanged {}\n\n// ==> mesh/platform/v1/options.proto <==\nsyntax = \"proto3\";\n"
	if r.stdout != want {
		t.Errorf("show --proto =\n%s\nwant\n%s", r.stdout, want)
	}

	r = meshctl(t, "-o", "json", "catalog", "show", "catalog.product-changes.v1", "--catalog", addr)
	r.wantCode(t, 0)
	got := &platformv1.GetProductResponse{}
	if err := unmarshalProtoJSON(r.stdout, got); err != nil {
		t.Fatalf("show -o json: %v\n%s", err, r.stdout)
	}
	if got.GetObserved().GetMessages() != 1234 || got.GetDescriptor_().GetSchema().GetFileDescriptorSet() == nil {
		t.Errorf("show -o json lost data: %v", got)
	}
}

func TestCatalogLineage(t *testing.T) {
	t.Parallel()
	addr := startCatalog(t, newFakeCatalog())
	r := meshctl(t, "catalog", "lineage", "quality.clean-readings.v1", "--depth", "2", "--catalog", addr)
	r.wantCode(t, 0)
	want := "" +
		"quality.clean-readings.v1  ──▶  quality.machine-health.v1  (confirmed)\n" +
		"quality.clean-readings.v1  ──▶  domain:scheduling          (observed only)\n" +
		"quality.machine-health.v1  ──▶  domain:scheduling          (declared only)\n"
	if r.stdout != want {
		t.Errorf("lineage =\n%s\nwant\n%s", r.stdout, want)
	}

	r = meshctl(t, "catalog", "lineage", "quality.clean-readings.v1", "--catalog", addr)
	r.wantCode(t, 0)
	if !strings.HasPrefix(r.stdout, "no lineage around quality.clean-readings.v1") {
		t.Errorf("lineage without edges = %q", r.stdout)
	}

	r = meshctl(t, "catalog", "lineage", "quality.clean-readings.v1", "--depth=2", "-o", "json", "--catalog", addr)
	r.wantCode(t, 0)
	got := &platformv1.GetLineageResponse{}
	if err := unmarshalProtoJSON(r.stdout, got); err != nil {
		t.Fatalf("lineage -o json: %v", err)
	}
	if len(got.GetEdges()) != 3 || got.GetEdges()[1].GetStatus() != platformv1.LineageEdgeStatus_LINEAGE_EDGE_STATUS_OBSERVED_ONLY {
		t.Errorf("lineage -o json edges = %v", got.GetEdges())
	}
}

func TestCatalogExport(t *testing.T) {
	t.Parallel()
	addr := startCatalog(t, newFakeCatalog())
	r := meshctl(t, "catalog", "export", "quality.clean-readings.v1", "--catalog", addr)
	r.wantCode(t, 0)
	if want := "apiVersion: v3.0.2\nkind: DataContract\nid: quality.clean-readings.v1\n"; r.stdout != want {
		t.Errorf("export = %q, want %q", r.stdout, want)
	}
}

// detailed is a catalog whose every product lookup fails with the given error.
type detailed struct {
	platformv1.UnimplementedCatalogServiceServer
	err error
}

func (d detailed) GetProduct(context.Context, *platformv1.GetProductRequest) (*platformv1.GetProductResponse, error) {
	return nil, d.err
}

func TestCatalogErrors(t *testing.T) {
	t.Parallel()
	bad, err := status.New(codes.InvalidArgument, "descriptor breaks governance rules").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "owner", Description: "DP002: owner is not set"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pre, err := status.New(codes.FailedPrecondition, "breaking change within v1").WithDetails(&errdetails.PreconditionFailure{
		Violations: []*errdetails.PreconditionFailure_Violation{{Type: "field-removed", Subject: "mesh.x.v1.Y.z", Description: "field 3 is gone"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		addr string
		args []string
		want []string
	}{
		{
			name: "not found", addr: startCatalog(t, newFakeCatalog()), args: []string{"catalog", "show", "nope.x.v1"},
			want: []string{`meshctl: catalog show nope.x.v1: not found: product "nope.x.v1" is not registered`},
		},
		{
			name: "bad request details", addr: startCatalog(t, detailed{err: bad.Err()}), args: []string{"catalog", "show", "a.b.v1"},
			want: []string{"catalog show a.b.v1: invalid argument: descriptor breaks governance rules [owner: DP002: owner is not set]"},
		},
		{
			name: "precondition details", addr: startCatalog(t, detailed{err: pre.Err()}), args: []string{"tail", "a.b.v1"},
			want: []string{"tail a.b.v1: failed precondition: breaking change within v1 [mesh.x.v1.Y.z: field 3 is gone (field-removed)]"},
		},
		{
			name: "unimplemented", addr: startCatalog(t, detailed{}), args: []string{"catalog", "lineage", "a.b.v1"},
			want: []string{"catalog lineage a.b.v1: unimplemented: method GetLineage not implemented"},
		},
		{
			name: "catalog down", addr: closedAddr(t), args: []string{"catalog", "ls"},
			want: []string{"catalog ls: unavailable: ", "(is the catalog running at 127.0.0.1:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := meshctl(t, append(tt.args, "--catalog", tt.addr)...)
			r.wantCode(t, 1)
			r.wantErrLine(t, tt.want...)
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}
