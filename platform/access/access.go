// Package access holds access requests and grants to data products: who asked for which
// product, why, with or without its PII fields, until when, and who decided. A grant is an
// approved request that has neither expired nor been revoked; the NATS callout turns the
// grants a principal holds into its permissions on the data path (package natsauth). No I/O.
package access

import (
	"regexp"
	"strings"
	"time"

	"meshwork.dev/platform/errs"
)

// State is where a request is in its life.
type State string

// The states: a request starts Pending and is decided once (Approved or Denied); an approved
// one ends Revoked or Expired.
const (
	Pending  State = "pending"
	Approved State = "approved"
	Denied   State = "denied"
	Revoked  State = "revoked"
	Expired  State = "expired"
)

// Limits of a request.
const (
	MaxPurpose = 500
	// DefaultTerm is how long a grant lasts when the request names no expiry.
	DefaultTerm = 90 * 24 * time.Hour
	// MaxTerm is the longest a grant may last.
	MaxTerm = 366 * 24 * time.Hour
)

var productID = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*\.[a-z][a-z0-9]*(-[a-z0-9]+)*\.v[1-9][0-9]*$`)

// Caller is who makes a call: the verified token's subject, roles and scopes.
type Caller struct {
	Subject string
	Roles   []string
	Scopes  []string
}

func (c Caller) has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Admin reports whether c holds the admin role.
func (c Caller) Admin() bool { return c.has(c.Roles, "admin") }

// Owns reports whether c may decide requests for domain's products: admin, or the scope
// <domain>:owner (an identity licence).
func (c Caller) Owns(domain string) bool { return c.Admin() || c.has(c.Scopes, domain+":owner") }

// Namespace is whom c's grants belong to: a service account svc-<domain> reads as its domain
// (its replicas share the grant), a person as itself.
func (c Caller) Namespace() string {
	if d, ok := strings.CutPrefix(c.Subject, "svc-"); ok && c.has(c.Roles, "service") {
		return d
	}
	return c.Subject
}

// Request is one access request.
type Request struct {
	ID string
	// Product is the product id asked for.
	Product string
	// Namespace is who gets the grant: a domain or a user id (see Caller.Namespace).
	Namespace string
	// RequestedBy is the subject who asked.
	RequestedBy string
	Purpose     string
	// PII asks for the fields marked PII too; without it the grant reads the redacted view.
	PII       bool
	ExpiresAt time.Time
	State     State
	DecidedBy string
	// Reason is the decider's (or revoker's) note.
	Reason    string
	CreatedAt time.Time
	DecidedAt time.Time
}

// Ask is what a caller submits.
type Ask struct {
	Product string
	Purpose string
	PII     bool
	// ExpiresAt zero means now + DefaultTerm.
	ExpiresAt time.Time
	// Namespace, when set, asks on behalf of a domain or user: admin only.
	Namespace string
}

// NewRequest validates ask by caller at now and returns the pending request. ownerDomain is
// the product's domain ("" when the catalog does not know the product). Every problem with a
// field is reported in one errs.Invalid naming it.
func NewRequest(id string, c Caller, ask Ask, ownerDomain string, now time.Time) (Request, error) {
	const op = "access.NewRequest"
	var v []errs.Violation
	switch {
	case ask.Product == "":
		v = append(v, errs.Violation{Field: "product", Description: "is required"})
	case !productID.MatchString(ask.Product):
		v = append(v, errs.Violation{Field: "product", Description: "must be a product id <domain>.<name>.v<major>"})
	case ownerDomain == "":
		v = append(v, errs.Violation{Field: "product", Description: "is not a product the catalog knows: " + ask.Product})
	}
	purpose := strings.TrimSpace(ask.Purpose)
	switch {
	case purpose == "":
		v = append(v, errs.Violation{Field: "purpose", Description: "is required: say what the data is for"})
	case len(purpose) > MaxPurpose:
		v = append(v, errs.Violation{Field: "purpose", Description: "must be at most 500 bytes"})
	}
	expires := ask.ExpiresAt
	switch {
	case expires.IsZero():
		expires = now.Add(DefaultTerm)
	case !expires.After(now):
		v = append(v, errs.Violation{Field: "expires_at", Description: "must be in the future"})
	case expires.Sub(now) > MaxTerm:
		v = append(v, errs.Violation{Field: "expires_at", Description: "must be within 366 days"})
	}
	ns := c.Namespace()
	if ask.Namespace != "" && ask.Namespace != ns {
		if !c.Admin() {
			return Request{}, errs.BadRequest(op, append(v, errs.Violation{Field: "namespace", Description: "only an admin asks on behalf of another namespace"})...)
		}
		ns = ask.Namespace
	}
	if len(v) > 0 {
		return Request{}, errs.BadRequest(op, v...)
	}
	return Request{ID: id, Product: ask.Product, Namespace: ns, RequestedBy: c.Subject, Purpose: purpose, PII: ask.PII,
		ExpiresAt: expires.UTC(), State: Pending, CreatedAt: now.UTC()}, nil
}

// Decide approves (or denies) r as c at now, for a product owned by ownerDomain. Only the
// owning domain's owner or an admin decides, and only a pending request.
func Decide(r Request, c Caller, approve bool, reason, ownerDomain string, now time.Time) (Request, error) {
	const op = "access.Decide"
	if !c.Owns(ownerDomain) {
		return Request{}, errs.Errorf(op, errs.Forbidden, "id: only an owner of domain %q (scope %s:owner) or an admin decides requests for %s",
			ownerDomain, ownerDomain, r.Product)
	}
	if r.State != Pending {
		return Request{}, errs.Errorf(op, errs.FailedPrecondition, "id: request %s is %s, not pending", r.ID, r.State)
	}
	if !now.Before(r.ExpiresAt) {
		return Request{}, errs.Errorf(op, errs.FailedPrecondition, "id: request %s asked for access until %s, which has passed", r.ID, r.ExpiresAt.Format(time.RFC3339))
	}
	r.State, r.DecidedBy, r.Reason, r.DecidedAt = Denied, c.Subject, strings.TrimSpace(reason), now.UTC()
	if approve {
		r.State = Approved
	}
	return r, nil
}

// Revoke ends an approved grant as c at now: the owning domain's owner, an admin, or the
// grant's holder giving it up.
func Revoke(r Request, c Caller, reason, ownerDomain string, now time.Time) (Request, error) {
	const op = "access.Revoke"
	if !c.Owns(ownerDomain) && c.Namespace() != r.Namespace {
		return Request{}, errs.Errorf(op, errs.Forbidden, "id: only an owner of domain %q, an admin or the holder revokes a grant", ownerDomain)
	}
	if r.State != Approved {
		return Request{}, errs.Errorf(op, errs.FailedPrecondition, "id: request %s is %s, not an active grant", r.ID, r.State)
	}
	r.State, r.DecidedBy, r.Reason, r.DecidedAt = Revoked, c.Subject, strings.TrimSpace(reason), now.UTC()
	return r, nil
}

// Active reports whether r is a grant in force at now.
func (r Request) Active(now time.Time) bool {
	return r.State == Approved && now.Before(r.ExpiresAt)
}

// Domain is the domain of a product id.
func Domain(product string) string {
	d, _, _ := strings.Cut(product, ".")
	return d
}
