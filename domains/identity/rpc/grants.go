package rpc

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// GrantScopes grants a user or service account scopes for an application until a time
// (admin). Tokens issued from now on carry them.
func (h *Handler) GrantScopes(ctx context.Context, req *identityv1.GrantScopesRequest) (*identityv1.GrantScopesResponse, error) {
	const op = "rpc.GrantScopes"
	_, actor, err := h.caller(ctx, op, false, user.Admin)
	if err != nil {
		return nil, err
	}
	if vs := checkID("subject_id", req.GetSubjectId()); vs != nil {
		return nil, errs.BadRequest(op, vs...)
	}
	now := h.d.Now()
	var expires time.Time // zero: grant.New reports it as missing
	if req.GetExpiresAt() != nil {
		if err := req.GetExpiresAt().CheckValid(); err != nil {
			return nil, errs.BadRequest(op, errs.Violation{Field: "expires_at", Description: "is not a valid timestamp"})
		}
		expires = req.GetExpiresAt().AsTime()
	}
	g, err := grant.New(uuid.NewString(), req.GetSubjectId(), req.GetApplication(), req.GetScopes(), expires, actor.ID(), now)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	e := h.entry(ctx, audit.GrantCreated, actor.ID(), req.GetSubjectId(), now)
	e.Details = map[string]string{"grant": g.ID(), "application": req.GetApplication(), "scopes": strings.Join(g.Scopes(), ","),
		"expires_at": expires.UTC().Format(time.RFC3339)}
	if err := h.d.Store.CreateGrant(ctx, g, e); err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	return &identityv1.GrantScopesResponse{Grant: grantToProto(g)}, nil
}

// RevokeGrant ends a grant now (admin); tokens issued from now on lack its scopes. Revoking a
// revoked grant changes nothing.
func (h *Handler) RevokeGrant(ctx context.Context, req *identityv1.RevokeGrantRequest) (*identityv1.RevokeGrantResponse, error) {
	const op = "rpc.RevokeGrant"
	_, actor, err := h.caller(ctx, op, false, user.Admin)
	if err != nil {
		return nil, err
	}
	if vs := checkID("id", req.GetId()); vs != nil {
		return nil, errs.BadRequest(op, vs...)
	}
	now := h.d.Now()
	e := h.entry(ctx, audit.GrantRevoked, actor.ID(), "", now)
	e.Details = map[string]string{"grant": req.GetId()}
	var subject string
	g, err := h.d.Store.UpdateGrant(ctx, req.GetId(), func(g *grant.Grant) error {
		subject = g.SubjectID()
		g.Revoke(now)
		return nil
	}, e)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	e.SubjectID = subject
	audit.Log(ctx, h.d.Log, e)
	return &identityv1.RevokeGrantResponse{Grant: grantToProto(g)}, nil
}

// ListGrants pages through grants, newest first: an admin's of anyone (or of subject_id),
// anyone else's only their own.
func (h *Handler) ListGrants(ctx context.Context, req *identityv1.ListGrantsRequest) (*identityv1.ListGrantsResponse, error) {
	const op = "rpc.ListGrants"
	_, me, err := h.caller(ctx, op, false)
	if err != nil {
		return nil, err
	}
	subject := req.GetSubjectId()
	if !me.HasRole(user.Admin) {
		if subject != "" && subject != me.ID() {
			return nil, errs.E(op, errs.Forbidden, "only admins may list other accounts' grants")
		}
		subject = me.ID()
	}
	var vs []errs.Violation
	if subject != "" {
		vs = checkID("subject_id", subject)
	}
	size, svs := pageSize(req.GetPageSize())
	query := fingerprint("grants", subject, boolString(req.GetIncludeInactive()))
	c, cvs := decodeCursor(req.GetPageToken(), query)
	if vs = append(append(vs, svs...), cvs...); len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	q := postgres.GrantQuery{SubjectID: subject, IncludeInactive: req.GetIncludeInactive(), Now: h.d.Now(), AfterID: c.ID, Limit: size + 1}
	if c.ID != "" {
		q.AfterCreated = unixMicro(c.Time)
	}
	grants, err := h.d.Store.ListGrants(ctx, q)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	resp := &identityv1.ListGrantsResponse{}
	if len(grants) > size {
		grants = grants[:size]
		last := grants[size-1].Snapshot()
		resp.NextPageToken = encodeCursor(cursor{Time: last.CreatedAt.UnixMicro(), ID: last.ID, Query: query})
	}
	for _, g := range grants {
		resp.Grants = append(resp.Grants, grantToProto(g))
	}
	return resp, nil
}
