package rpc

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/access"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/catalog/governance"
	"meshwork.dev/platform/catalog/postgres"
	"meshwork.dev/platform/errs"
)

// AccessRules says who may call each AccessService RPC: any signed-in caller; what each may
// do (decide only for owned domains, see others' requests only as their owner) is decided
// by package access.
var AccessRules = auth.Rules{
	platformv1.AccessService_RequestAccess_FullMethodName:       auth.Authenticated(),
	platformv1.AccessService_ListAccessRequests_FullMethodName:  auth.Authenticated(),
	platformv1.AccessService_DecideAccessRequest_FullMethodName: auth.Authenticated(),
	platformv1.AccessService_RevokeGrant_FullMethodName:         auth.Authenticated(),
	platformv1.AccessService_ListAudit_FullMethodName:           auth.AnyRole(RoleAdmin),
}

// AccessHandler implements platformv1.AccessServiceServer over a governor.
type AccessHandler struct {
	platformv1.UnimplementedAccessServiceServer
	gov *governance.Governor
	js  jetstream.JetStream
}

var _ platformv1.AccessServiceServer = (*AccessHandler)(nil)

// NewAccessHandler returns the handlers; js reads the audit stream.
func NewAccessHandler(gov *governance.Governor, js jetstream.JetStream) *AccessHandler {
	return &AccessHandler{gov: gov, js: js}
}

// caller is the verified caller of ctx.
func caller(ctx context.Context) (access.Caller, error) {
	c, ok := auth.FromContext(ctx)
	if !ok {
		return access.Caller{}, errs.E("rpc", errs.Unauthenticated, "a token is required")
	}
	subject := c.Subject
	if c.ClientID != "" {
		subject = c.ClientID // a service account acts for its domain (svc-<domain>)
	}
	return access.Caller{Subject: subject, Roles: c.Roles, Scopes: c.Scopes}, nil
}

// RequestAccess implements platformv1.AccessServiceServer.
func (h *AccessHandler) RequestAccess(ctx context.Context, req *platformv1.RequestAccessRequest) (*platformv1.RequestAccessResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ask := access.Ask{Product: req.GetProduct(), Purpose: req.GetPurpose(), PII: req.GetPii(), Namespace: req.GetNamespace()}
	if req.GetExpiresAt() != nil {
		ask.ExpiresAt = req.GetExpiresAt().AsTime()
	}
	r, err := h.gov.Request(ctx, c, ask)
	if err != nil {
		return nil, err
	}
	return &platformv1.RequestAccessResponse{Request: governance.ToProto(r)}, nil
}

// ListAccessRequests implements platformv1.AccessServiceServer.
func (h *AccessHandler) ListAccessRequests(ctx context.Context, req *platformv1.ListAccessRequestsRequest) (*platformv1.ListAccessRequestsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetPageSize() < 0 {
		return nil, errs.BadRequest("rpc.ListAccessRequests", errs.Violation{Field: "page_size", Description: "must not be negative"})
	}
	rs, next, err := h.gov.List(ctx, c, postgres.AccessFilter{Product: req.GetProduct(), Namespace: req.GetNamespace(),
		State: governance.StateFromProto(req.GetState()), Limit: int(req.GetPageSize()), After: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	out := &platformv1.ListAccessRequestsResponse{NextPageToken: next}
	for _, r := range rs {
		out.Requests = append(out.Requests, governance.ToProto(r))
	}
	return out, nil
}

// DecideAccessRequest implements platformv1.AccessServiceServer.
func (h *AccessHandler) DecideAccessRequest(ctx context.Context, req *platformv1.DecideAccessRequestRequest) (*platformv1.DecideAccessRequestResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.gov.Decide(ctx, c, req.GetId(), req.GetApprove(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &platformv1.DecideAccessRequestResponse{Request: governance.ToProto(r)}, nil
}

// RevokeGrant implements platformv1.AccessServiceServer.
func (h *AccessHandler) RevokeGrant(ctx context.Context, req *platformv1.RevokeGrantRequest) (*platformv1.RevokeGrantResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.gov.Revoke(ctx, c, req.GetId(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &platformv1.RevokeGrantResponse{Request: governance.ToProto(r)}, nil
}

// ListAudit implements platformv1.AccessServiceServer.
func (h *AccessHandler) ListAudit(ctx context.Context, req *platformv1.ListAuditRequest) (*platformv1.ListAuditResponse, error) {
	f := governance.AuditFilter{Principal: req.GetPrincipal(), Product: req.GetProduct(), Action: req.GetAction(), Limit: int(req.GetLimit())}
	if req.GetSince() != nil {
		f.Since = req.GetSince().AsTime()
	}
	if req.GetUntil() != nil {
		f.Until = req.GetUntil().AsTime()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return nil, errs.BadRequest("rpc.ListAudit", errs.Violation{Field: "until", Description: "must not be before since"})
	}
	if req.GetLimit() < 0 {
		return nil, errs.BadRequest("rpc.ListAudit", errs.Violation{Field: "limit", Description: "must not be negative"})
	}
	es, err := governance.ReadAudit(ctx, h.js, f)
	if err != nil {
		return nil, err
	}
	return &platformv1.ListAuditResponse{Entries: es}, nil
}
