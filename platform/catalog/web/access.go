package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/errs"
)

// Access is what the console needs of the mesh's access API (requests, grants, audit). Every
// call carries the signed-in user's access token, and the API decides what that user may see
// and do; errors carry errs kinds (Forbidden for a decision the user may not take, Invalid
// naming the bad field).
type Access interface {
	// Request asks for access to a product on behalf of the token's user.
	Request(ctx context.Context, token string, r AccessRequest) (AccessRequest, error)
	// Requests lists requests matching f that the user may see.
	Requests(ctx context.Context, token string, f RequestFilter) ([]AccessRequest, error)
	// Approve grants a pending request; Deny refuses it. Only a product's owner may decide.
	Approve(ctx context.Context, token, id, reason string) (AccessRequest, error)
	Deny(ctx context.Context, token, id, reason string) (AccessRequest, error)
	// Grants lists a product's active grants.
	Grants(ctx context.Context, token, product string) ([]Grant, error)
	// Audit lists audit entries matching f, newest first.
	Audit(ctx context.Context, token string, f AuditFilter) ([]AuditEntry, error)
	// Reads says whether the user may read product's events, as NATS would let them (a grant,
	// the owning domain, admin), and whether with its personal fields.
	Reads(ctx context.Context, token, product string) (read, pii bool, err error)
}

// Request states.
const (
	Pending  = "pending"
	Approved = "approved"
	Denied   = "denied"
)

// AccessRequest is one request for access to a product.
type AccessRequest struct {
	ID, Product string
	// Requester is the requesting user (email); Purpose why they need the data.
	Requester, Purpose string
	// PII asks for the personal fields too, not only the redacted view.
	PII bool
	// State is Pending, Approved or Denied; DecidedBy and Reason say who decided and why.
	State, DecidedBy, Reason string
	CreatedAt, DecidedAt     time.Time
}

// RequestFilter narrows Requests; zero fields match everything.
type RequestFilter struct {
	Product, State string
	// Reviewable keeps the requests the user may decide (products they own).
	Reviewable bool
	// Mine keeps the user's own requests.
	Mine bool
}

// Grant is a subject's access to a product.
type Grant struct {
	ID, Product, Subject string
	// PII includes the personal fields; without it the subject reads the redacted view.
	PII                bool
	GrantedBy, Request string
	GrantedAt, Expires time.Time
}

// AuditFilter narrows Audit; zero fields match everything.
type AuditFilter struct {
	Product string
	Limit   int
}

// AuditEntry is one audited action.
type AuditEntry struct {
	Time                           time.Time
	Actor, Action, Product, Detail string
}

// accessPanel is the access section of a product page.
type accessPanel struct {
	SignedIn bool
	Grants   []Grant
	Mine     []AccessRequest
	Err      string
	HasPII   bool
	Notice   string
}

// accessPanel reads the product's grants and the user's requests; nil without an Access API.
func (c *Console) accessPanel(r *http.Request, d *platformv1.DataProductDescriptor) *accessPanel {
	if c.cfg.Access == nil {
		return nil
	}
	p := &accessPanel{HasPII: len(d.GetPiiFields()) > 0, Notice: r.URL.Query().Get("requested")}
	u := c.user(r)
	if u == nil {
		return p
	}
	p.SignedIn = true
	var err error
	if p.Grants, err = c.cfg.Access.Grants(r.Context(), u.Token, d.GetName()); err == nil {
		p.Mine, err = c.cfg.Access.Requests(r.Context(), u.Token, RequestFilter{Product: d.GetName(), Mine: true})
	}
	if err != nil {
		p.Err = errs.Message(err)
	}
	return p
}

// requireUser returns the signed-in user, or redirects to sign-in and returns nil.
func (c *Console) requireUser(w http.ResponseWriter, r *http.Request, back string) *User {
	u := c.user(r)
	if u == nil {
		if c.cfg.Identity == nil {
			c.fail(w, r, errs.E("web", errs.Unavailable, "sign-in is not configured"))
			return nil
		}
		http.Redirect(w, r, "/signin?next="+back, http.StatusSeeOther)
	}
	return u
}

func (c *Console) requestAccess(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if c.cfg.Access == nil {
		c.fail(w, r, errs.E("web.access", errs.Unavailable, "access requests are not configured"))
		return
	}
	if !sameOrigin(r) {
		c.fail(w, r, errs.E("web.access", errs.Forbidden, "cross-site form posts are refused"))
		return
	}
	u := c.requireUser(w, r, "/products/"+name)
	if u == nil {
		return
	}
	purpose := strings.TrimSpace(r.PostFormValue("purpose"))
	if purpose == "" {
		c.fail(w, r, errs.BadRequest("web.access", errs.Violation{Field: "purpose", Description: "is required: say what you need the data for"}))
		return
	}
	if _, err := c.cfg.Catalog.Product(r.Context(), name); err != nil {
		c.fail(w, r, err)
		return
	}
	req, err := c.cfg.Access.Request(r.Context(), u.Token, AccessRequest{Product: name, Purpose: purpose, PII: r.PostFormValue("pii") == "on"})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/products/"+name+"?requested="+req.ID+"#access", http.StatusSeeOther)
}

// queueData is the access page's data.
type queueData struct {
	Queue, Mine []AccessRequest
}

func (c *Console) accessQueue(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Access == nil {
		c.fail(w, r, errs.E("web.access", errs.Unavailable, "access requests are not configured"))
		return
	}
	u := c.requireUser(w, r, "/access")
	if u == nil {
		return
	}
	var d queueData
	var err error
	if d.Queue, err = c.cfg.Access.Requests(r.Context(), u.Token, RequestFilter{State: Pending, Reviewable: true}); err != nil {
		c.fail(w, r, err)
		return
	}
	if d.Mine, err = c.cfg.Access.Requests(r.Context(), u.Token, RequestFilter{Mine: true}); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, "access", "Access requests", "access", d)
}

func (c *Console) decide(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Access == nil {
		c.fail(w, r, errs.E("web.access", errs.Unavailable, "access requests are not configured"))
		return
	}
	if !sameOrigin(r) {
		c.fail(w, r, errs.E("web.access", errs.Forbidden, "cross-site form posts are refused"))
		return
	}
	u := c.requireUser(w, r, "/access")
	if u == nil {
		return
	}
	id, reason := r.PathValue("id"), strings.TrimSpace(r.PostFormValue("reason"))
	var err error
	switch r.PathValue("decision") {
	case "approve":
		_, err = c.cfg.Access.Approve(r.Context(), u.Token, id, reason)
	case "deny":
		_, err = c.cfg.Access.Deny(r.Context(), u.Token, id, reason)
	default:
		err = errs.BadRequest("web.decide", errs.Violation{Field: "decision", Description: "must be approve or deny"})
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/access", http.StatusSeeOther)
}

// auditData is the audit page's data.
type auditData struct {
	Product string
	Entries []AuditEntry
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Access == nil {
		c.fail(w, r, errs.E("web.audit", errs.Unavailable, "the audit trail is not configured"))
		return
	}
	u := c.requireUser(w, r, "/audit")
	if u == nil {
		return
	}
	d := auditData{Product: strings.TrimSpace(r.URL.Query().Get("product"))}
	var err error
	if d.Entries, err = c.cfg.Access.Audit(r.Context(), u.Token, AuditFilter{Product: d.Product, Limit: 200}); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, "audit", "Audit trail", "audit", d)
}

// mayRead answers 403 when u may not read product's events (or the error asking it failed) and
// reports false; otherwise it reports whether u reads the personal fields.
func (c *Console) mayRead(w http.ResponseWriter, r *http.Request, u *User, product string) (pii, ok bool) {
	read, pii, err := c.reads(r.Context(), u, product)
	if err == nil && !read {
		err = errs.Errorf("web.events", errs.Forbidden, "you hold no grant on %s: request access on its page", product)
	}
	if err != nil {
		c.fail(w, r, err)
		return false, false
	}
	return pii, true
}

// reads says whether u may read product's events and whether with its personal fields. A
// console without sign-in or without the access API (a developer's) shows events redacted.
func (c *Console) reads(ctx context.Context, u *User, product string) (read, pii bool, err error) {
	if c.cfg.Access == nil || u == nil {
		return true, false, nil
	}
	return c.cfg.Access.Reads(ctx, u.Token, product)
}
