// Package rpc serves mesh.platform.v1.CatalogService over gRPC: the handlers, the
// conversions between the catalog's Go types and the contract's messages (convert.go), and
// the access rules (Rules).
//
// Errors keep their errs kinds, which platform/service maps to status codes, except a
// registration refused for breaking schema changes: that one becomes FAILED_PRECONDITION with
// a google.rpc.PreconditionFailure listing each change (type "BREAKING_CHANGE", subject the
// changed element's path).
package rpc

import (
	"context"
	"errors"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/access"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/catalog/odps"
	"meshwork.dev/platform/catalog/protosrc"
	"meshwork.dev/platform/errs"
)

// Handler implements platformv1.CatalogServiceServer over a catalog.
type Handler struct {
	platformv1.UnimplementedCatalogServiceServer
	cat    *catalog.Catalog
	export odcs.Options
	grants func(ctx context.Context, product string) ([]access.Request, error)
}

var _ platformv1.CatalogServiceServer = (*Handler)(nil)

// NewHandler returns the handlers over cat; export says where contracts tell consumers to
// connect.
func NewHandler(cat *catalog.Catalog, export odcs.Options) *Handler {
	return &Handler{cat: cat, export: export}
}

// RegisterProduct implements platformv1.CatalogServiceServer.
func (h *Handler) RegisterProduct(ctx context.Context, req *platformv1.RegisterProductRequest) (*platformv1.RegisterProductResponse, error) {
	ch, err := h.cat.Register(ctx, req.GetDescriptor_())
	if err != nil {
		return nil, breakingStatus(err)
	}
	return &platformv1.RegisterProductResponse{
		Revision: ch.Entry.Revision,
		Changed:  ch.Changed(),
		Warnings: findings(ch.Warnings),
	}, nil
}

// ListProducts implements platformv1.CatalogServiceServer.
func (h *Handler) ListProducts(ctx context.Context, req *platformv1.ListProductsRequest) (*platformv1.ListProductsResponse, error) {
	page, err := h.cat.List(ctx, catalog.Query{
		Filter: filter(req.GetFilter()), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	return &platformv1.ListProductsResponse{Products: summaries(page.Products), NextPageToken: page.NextPageToken}, nil
}

// SearchProducts implements platformv1.CatalogServiceServer.
func (h *Handler) SearchProducts(ctx context.Context, req *platformv1.SearchProductsRequest) (*platformv1.SearchProductsResponse, error) {
	page, err := h.cat.List(ctx, catalog.Query{
		Search: true, Text: req.GetQuery(),
		Filter: filter(req.GetFilter()), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	return &platformv1.SearchProductsResponse{Products: summaries(page.Products), NextPageToken: page.NextPageToken}, nil
}

// GetProduct implements platformv1.CatalogServiceServer.
func (h *Handler) GetProduct(ctx context.Context, req *platformv1.GetProductRequest) (*platformv1.GetProductResponse, error) {
	const op = "rpc.GetProduct"
	d, err := h.cat.Detail(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	files, err := ProtoFiles(d.Entry.Descriptor.GetSchema())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &platformv1.GetProductResponse{
		Descriptor_:  d.Entry.Descriptor,
		ProtoFiles:   files,
		Revision:     d.Entry.Revision,
		RegisteredAt: timestamp(d.Entry.RegisteredAt),
		UpdatedAt:    timestamp(d.Entry.UpdatedAt),
		Observed:     observed(d.Observed, d.Freshness),
	}, nil
}

// GetLineage implements platformv1.CatalogServiceServer.
func (h *Handler) GetLineage(ctx context.Context, req *platformv1.GetLineageRequest) (*platformv1.GetLineageResponse, error) {
	g, err := h.cat.Lineage(ctx, req.GetName(), int(req.GetDepth()))
	if err != nil {
		return nil, err
	}
	return lineage(g), nil
}

// ExportProduct implements platformv1.CatalogServiceServer. The unspecified format is ODCS
// v3 YAML. ODCS takes a product id; ODPS a product id or a domain name (every product of the
// domain as output ports).
func (h *Handler) ExportProduct(ctx context.Context, req *platformv1.ExportProductRequest) (*platformv1.ExportProductResponse, error) {
	const op = "rpc.ExportProduct"
	switch req.GetFormat() {
	case platformv1.ExportFormat_EXPORT_FORMAT_UNSPECIFIED, platformv1.ExportFormat_EXPORT_FORMAT_ODCS_V3_YAML:
	case platformv1.ExportFormat_EXPORT_FORMAT_ODPS_V1_YAML:
		return h.exportODPS(ctx, req.GetName())
	default:
		return nil, errs.BadRequest(op, errs.Violation{Field: "format", Description: "must be EXPORT_FORMAT_ODCS_V3_YAML or EXPORT_FORMAT_ODPS_V1_YAML"})
	}
	e, err := h.cat.Product(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	opts := h.export
	if h.grants != nil {
		if opts.Grants, err = h.grants(ctx, req.GetName()); err != nil {
			return nil, errs.Wrap(op, err)
		}
	}
	doc, err := odcs.Render(e, opts)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &platformv1.ExportProductResponse{ContentType: odcs.ContentType, Content: string(doc)}, nil
}

// WithGrants makes ODCS exports list the product's grants as roles; grants returns a
// product's access requests (the active approved ones become roles).
func (h *Handler) WithGrants(grants func(ctx context.Context, product string) ([]access.Request, error)) *Handler {
	h.grants = grants
	return h
}

// exportODPS renders the product, or every product of the domain, as an ODPS document.
func (h *Handler) exportODPS(ctx context.Context, name string) (*platformv1.ExportProductResponse, error) {
	const op = "rpc.ExportProduct"
	var outputs []catalog.Entry
	if strings.Contains(name, ".") {
		e, err := h.cat.Product(ctx, name)
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, e)
	} else {
		page, err := h.cat.List(ctx, catalog.Query{Filter: catalog.Filter{Domain: name}, PageSize: catalog.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for _, s := range page.Products {
			e, err := h.cat.Product(ctx, s.Name)
			if err != nil {
				return nil, err
			}
			outputs = append(outputs, e)
		}
		if len(outputs) == 0 {
			return nil, errs.Errorf(op, errs.NotFound, "no product registered by domain %q (name a product id or a domain)", name)
		}
	}
	known := map[string]catalog.Entry{}
	for _, e := range outputs {
		for _, u := range e.Descriptor.GetUpstreams() {
			if _, ok := known[u]; ok {
				continue
			}
			if ue, err := h.cat.Product(ctx, u); err == nil {
				known[u] = ue
			}
		}
	}
	doc, err := odps.Render(name, outputs, known)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &platformv1.ExportProductResponse{ContentType: odps.ContentType, Content: string(doc)}, nil
}

// ProtoFiles renders a schema's files as .proto source, the payload's file first, then the
// others in the set's order.
func ProtoFiles(s *platformv1.Schema) ([]*platformv1.ProtoFile, error) {
	files, err := protosrc.Render(s.GetFileDescriptorSet())
	if err != nil {
		return nil, err
	}
	payloadFile := ""
	for _, f := range s.GetFileDescriptorSet().GetFile() {
		if declares(f.GetPackage(), f.GetMessageType(), s.GetMessageName()) {
			payloadFile = f.GetName()
		}
	}
	slices.SortStableFunc(files, func(a, b protosrc.File) int {
		switch {
		case a.Path == payloadFile && b.Path != payloadFile:
			return -1
		case b.Path == payloadFile && a.Path != payloadFile:
			return 1
		}
		return 0
	})
	out := make([]*platformv1.ProtoFile, len(files))
	for i, f := range files {
		out[i] = &platformv1.ProtoFile{Path: f.Path, Source: f.Source}
	}
	return out, nil
}

// breakingStatus turns a refusal for breaking changes into FAILED_PRECONDITION with a
// PreconditionFailure; other errors pass through for the service's error mapping.
func breakingStatus(err error) error {
	var bc *catalog.BreakingChanges
	if !errors.As(err, &bc) {
		return err
	}
	pf := &errdetails.PreconditionFailure{}
	for _, c := range bc.Changes {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type: "BREAKING_CHANGE", Subject: c.Field, Description: c.Message,
		})
	}
	st := status.New(codes.FailedPrecondition, bc.Error())
	if withDetails, derr := st.WithDetails(pf); derr == nil {
		st = withDetails
	}
	return st.Err()
}
