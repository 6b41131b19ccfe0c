// Package governed is the console's access pages (web.Access) over the catalog's governor: every
// call made as the user whose token the console holds, decided by the same rules as the
// AccessService.
package governed

import (
	"context"
	"slices"

	"meshwork.dev/platform/access"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/catalog/governance"
	"meshwork.dev/platform/catalog/postgres"
	"meshwork.dev/platform/catalog/web"
	"meshwork.dev/platform/errs"

	"github.com/nats-io/nats.go/jetstream"
)

// Access is web.Access over a governor. Tokens are verified by verifier; the audit trail is
// read from js.
type Access struct {
	gov      *governance.Governor
	verifier *auth.Verifier
	js       jetstream.JetStream
}

var _ web.Access = Access{}

// New returns the console's access over gov.
func New(gov *governance.Governor, verifier *auth.Verifier, js jetstream.JetStream) Access {
	return Access{gov: gov, verifier: verifier, js: js}
}

func (a Access) caller(ctx context.Context, token string) (access.Caller, error) {
	c, err := a.verifier.Verify(ctx, token)
	if err != nil {
		return access.Caller{}, err
	}
	subject := c.Subject
	if c.ClientID != "" {
		subject = c.ClientID
	}
	return access.Caller{Subject: subject, Roles: c.Roles, Scopes: c.Scopes}, nil
}

func toWeb(r access.Request) web.AccessRequest {
	return web.AccessRequest{ID: r.ID, Product: r.Product, Requester: r.RequestedBy, Purpose: r.Purpose, PII: r.PII,
		State: string(r.State), DecidedBy: r.DecidedBy, Reason: r.Reason, CreatedAt: r.CreatedAt, DecidedAt: r.DecidedAt}
}

func (a Access) Request(ctx context.Context, token string, r web.AccessRequest) (web.AccessRequest, error) {
	c, err := a.caller(ctx, token)
	if err != nil {
		return web.AccessRequest{}, err
	}
	out, err := a.gov.Request(ctx, c, access.Ask{Product: r.Product, Purpose: r.Purpose, PII: r.PII})
	return toWeb(out), err
}

func (a Access) Requests(ctx context.Context, token string, f web.RequestFilter) ([]web.AccessRequest, error) {
	c, err := a.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	rs, _, err := a.gov.List(ctx, c, postgres.AccessFilter{Product: f.Product, State: access.State(f.State), Limit: 200})
	if err != nil {
		return nil, err
	}
	var out []web.AccessRequest
	for _, r := range rs {
		mine := r.Namespace == c.Namespace()
		if f.Mine && !mine || f.Reviewable && (mine || !c.Owns(access.Domain(r.Product))) {
			continue
		}
		out = append(out, toWeb(r))
	}
	return out, nil
}

func (a Access) decide(ctx context.Context, token, id, reason string, approve bool) (web.AccessRequest, error) {
	c, err := a.caller(ctx, token)
	if err != nil {
		return web.AccessRequest{}, err
	}
	out, err := a.gov.Decide(ctx, c, id, approve, reason)
	return toWeb(out), err
}

func (a Access) Approve(ctx context.Context, token, id, reason string) (web.AccessRequest, error) {
	return a.decide(ctx, token, id, reason, true)
}

func (a Access) Deny(ctx context.Context, token, id, reason string) (web.AccessRequest, error) {
	return a.decide(ctx, token, id, reason, false)
}

func (a Access) Grants(ctx context.Context, token, product string) ([]web.Grant, error) {
	c, err := a.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	rs, _, err := a.gov.List(ctx, c, postgres.AccessFilter{Product: product, State: access.Approved, Limit: 500})
	if err != nil {
		return nil, err
	}
	var out []web.Grant
	for _, r := range rs {
		out = append(out, web.Grant{ID: r.ID, Product: r.Product, Subject: r.Namespace, PII: r.PII, GrantedBy: r.DecidedBy,
			Request: r.ID, GrantedAt: r.DecidedAt, Expires: r.ExpiresAt})
	}
	return out, nil
}

func (a Access) Audit(ctx context.Context, token string, f web.AuditFilter) ([]web.AuditEntry, error) {
	c, err := a.caller(ctx, token)
	if err != nil {
		return nil, err
	}
	if !c.Admin() {
		return nil, errs.E("governed.Audit", errs.Forbidden, "the audit trail is for admins")
	}
	es, err := governance.ReadAudit(ctx, a.js, governance.AuditFilter{Product: f.Product, Limit: 1000})
	if err != nil {
		return nil, err
	}
	slices.Reverse(es)
	if f.Limit > 0 && len(es) > f.Limit {
		es = es[:f.Limit]
	}
	out := make([]web.AuditEntry, len(es))
	for i, e := range es {
		out[i] = web.AuditEntry{Time: e.GetTime().AsTime(), Actor: e.GetPrincipal(), Action: e.GetAction(), Product: e.GetProduct(), Detail: e.GetDetail()}
	}
	return out, nil
}

// Reads implements web.Access: an admin and the owning domain's owners read everything; others
// what their grants open, with the personal fields only under a PII grant.
func (a Access) Reads(ctx context.Context, token, product string) (read, pii bool, err error) {
	c, err := a.caller(ctx, token)
	if err != nil {
		return false, false, err
	}
	if c.Owns(access.Domain(product)) {
		return true, true, nil
	}
	gs, err := a.gov.Grants(ctx, c.Namespace())
	if err != nil {
		return false, false, err
	}
	for _, g := range gs {
		if g.Product == product {
			read, pii = true, pii || g.PII
		}
	}
	return read, pii, nil
}
