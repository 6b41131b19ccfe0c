// Package accesstest is an in-memory web.Access for the console's tests of its access pages,
// until the mesh's access API (requests, grants, audit) exists. It is not a model of that
// API's rules beyond what the pages need: only a product's approvers may decide its requests,
// an approved request becomes a grant, and every action is audited.
package accesstest

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"meshwork.dev/platform/catalog/web"
	"meshwork.dev/platform/errs"
)

// Access keeps requests, grants and audit entries in memory.
type Access struct {
	who       func(ctx context.Context, token string) (string, error)
	approvers func(product string) []string

	mu       sync.Mutex
	requests []web.AccessRequest
	grants   []web.Grant
	audit    []web.AuditEntry
}

var _ web.Access = (*Access)(nil)

// New returns an empty Access. who names the user a token belongs to (errs.Unauthenticated
// when it belongs to none); approvers lists who may decide a product's requests.
func New(who func(ctx context.Context, token string) (string, error), approvers func(product string) []string) *Access {
	return &Access{who: who, approvers: approvers}
}

func (a *Access) log(actor, action, product, detail string) {
	a.audit = append(a.audit, web.AuditEntry{Time: time.Now().UTC(), Actor: actor, Action: action, Product: product, Detail: detail})
}

// Request implements web.Access.
func (a *Access) Request(ctx context.Context, token string, r web.AccessRequest) (web.AccessRequest, error) {
	const op = "accesstest.Request"
	user, err := a.who(ctx, token)
	if err != nil {
		return web.AccessRequest{}, err
	}
	if r.Product == "" {
		return web.AccessRequest{}, errs.BadRequest(op, errs.Violation{Field: "product", Description: "is required"})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r.ID = "req-" + strconv.Itoa(len(a.requests)+1)
	r.Requester, r.State, r.CreatedAt = user, web.Pending, time.Now().UTC()
	a.requests = append(a.requests, r)
	a.log(user, "access.requested", r.Product, r.ID+": "+r.Purpose)
	return r, nil
}

// Requests implements web.Access.
func (a *Access) Requests(ctx context.Context, token string, f web.RequestFilter) ([]web.AccessRequest, error) {
	user, err := a.who(ctx, token)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []web.AccessRequest
	for _, r := range a.requests {
		mayDecide := slices.Contains(a.approvers(r.Product), user)
		switch {
		case f.Product != "" && r.Product != f.Product, f.State != "" && r.State != f.State,
			f.Mine && r.Requester != user, f.Reviewable && !mayDecide, !mayDecide && r.Requester != user:
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// Approve implements web.Access.
func (a *Access) Approve(ctx context.Context, token, id, reason string) (web.AccessRequest, error) {
	return a.decide(ctx, token, id, reason, web.Approved)
}

// Deny implements web.Access.
func (a *Access) Deny(ctx context.Context, token, id, reason string) (web.AccessRequest, error) {
	return a.decide(ctx, token, id, reason, web.Denied)
}

func (a *Access) decide(ctx context.Context, token, id, reason, state string) (web.AccessRequest, error) {
	const op = "accesstest.decide"
	user, err := a.who(ctx, token)
	if err != nil {
		return web.AccessRequest{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.requests, func(r web.AccessRequest) bool { return r.ID == id })
	switch {
	case i < 0:
		return web.AccessRequest{}, errs.E(op, errs.NotFound, "no access request "+id)
	case !slices.Contains(a.approvers(a.requests[i].Product), user):
		return web.AccessRequest{}, errs.E(op, errs.Forbidden, "only the owner of "+a.requests[i].Product+" decides its requests")
	case a.requests[i].State != web.Pending:
		return web.AccessRequest{}, errs.E(op, errs.FailedPrecondition, "request "+id+" is already "+a.requests[i].State)
	}
	r := &a.requests[i]
	r.State, r.DecidedBy, r.Reason, r.DecidedAt = state, user, reason, time.Now().UTC()
	a.log(user, "access."+state, r.Product, id+" for "+r.Requester)
	if state == web.Approved {
		a.grants = append(a.grants, web.Grant{ID: "grant-" + strconv.Itoa(len(a.grants)+1), Product: r.Product, Subject: r.Requester,
			PII: r.PII, GrantedBy: user, Request: id, GrantedAt: r.DecidedAt, Expires: r.DecidedAt.Add(90 * 24 * time.Hour)})
	}
	return *r, nil
}

// Grants implements web.Access.
func (a *Access) Grants(ctx context.Context, token, product string) ([]web.Grant, error) {
	if _, err := a.who(ctx, token); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []web.Grant
	for _, g := range a.grants {
		if g.Product == product {
			out = append(out, g)
		}
	}
	return out, nil
}

// Audit implements web.Access.
func (a *Access) Audit(ctx context.Context, token string, f web.AuditFilter) ([]web.AuditEntry, error) {
	if _, err := a.who(ctx, token); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []web.AuditEntry
	for i := len(a.audit) - 1; i >= 0; i-- {
		if e := a.audit[i]; f.Product == "" || e.Product == f.Product {
			out = append(out, e)
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}
