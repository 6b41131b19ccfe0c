// Package grant holds licences: a grant gives a user or service account a set of scopes for
// one application or domain until an expiry. Access tokens carry the scopes of the subject's
// active grants at the time they are issued, so a new or revoked grant takes effect with the
// next token. No I/O.
package grant

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"meshwork.dev/platform/errs"
)

// EnrollScope is the scope of an enrolment-only session (see package token); it can never be
// granted.
const EnrollScope = "identity:enroll"

// MaxScopes bounds the scopes of one grant, so tokens stay small.
const MaxScopes = 32

var (
	application = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	action      = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)
)

// Grant is one licence. Build it with New; stores restore it with FromSnapshot.
type Grant struct {
	s Snapshot
}

// Snapshot is a Grant's state as storage keeps it.
type Snapshot struct {
	ID          string
	SubjectID   string
	Application string
	Scopes      []string
	ExpiresAt   time.Time
	RevokedAt   time.Time // zero while not revoked
	GrantedBy   string
	CreatedAt   time.Time
}

// New returns a grant of scopes for application to subjectID, given by grantedBy, valid
// until expiresAt, which must be after now. Every scope is "<application>:<action>" (lower
// case; the action may contain '.', '_' and '-'); duplicates are dropped. Every problem is
// reported in one Invalid error naming the request fields.
func New(id, subjectID, app string, scopes []string, expiresAt time.Time, grantedBy string, now time.Time) (*Grant, error) {
	var vs []errs.Violation
	bad := func(field, why string) { vs = append(vs, errs.Violation{Field: field, Description: why}) }
	if subjectID == "" {
		bad("subject_id", "is required")
	}
	if !application.MatchString(app) || len(app) > 40 {
		bad("application", "must be a kebab-case application or domain name, like \"quality\"")
	}
	if len(scopes) == 0 {
		bad("scopes", "at least one scope is required")
	}
	if len(scopes) > MaxScopes {
		bad("scopes", "at most 32 scopes per grant")
	}
	for i, s := range scopes {
		field := "scopes[" + strconv.Itoa(i) + "]"
		prefix, act, ok := strings.Cut(s, ":")
		switch {
		case !ok || prefix != app || !action.MatchString(act) || len(s) > 80:
			bad(field, "must be \""+app+":<action>\" in lower case")
		case s == EnrollScope:
			bad(field, EnrollScope+" is reserved for enrolment sessions")
		}
	}
	switch {
	case expiresAt.IsZero():
		bad("expires_at", "is required")
	case !expiresAt.After(now):
		bad("expires_at", "must be in the future")
	}
	if len(vs) > 0 {
		return nil, errs.BadRequest("grant.New", vs...)
	}
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	return &Grant{s: Snapshot{
		ID: id, SubjectID: subjectID, Application: app, Scopes: slices.Compact(sorted),
		ExpiresAt: expiresAt, GrantedBy: grantedBy, CreatedAt: now,
	}}, nil
}

// FromSnapshot restores a stored grant.
func FromSnapshot(s Snapshot) *Grant { return &Grant{s: s} }

// Snapshot returns the grant's state for storage.
func (g *Grant) Snapshot() Snapshot {
	s := g.s
	s.Scopes = slices.Clone(s.Scopes)
	return s
}

// ID is the grant's id.
func (g *Grant) ID() string { return g.s.ID }

// SubjectID is the user or service account the grant is for.
func (g *Grant) SubjectID() string { return g.s.SubjectID }

// Scopes returns a copy of the scopes, sorted.
func (g *Grant) Scopes() []string { return slices.Clone(g.s.Scopes) }

// Active reports whether the grant applies at t: not revoked and not expired.
func (g *Grant) Active(t time.Time) bool {
	return g.s.RevokedAt.IsZero() && t.Before(g.s.ExpiresAt)
}

// Revoke ends the grant at now. It reports false, changing nothing, when the grant was
// already revoked.
func (g *Grant) Revoke(now time.Time) bool {
	if !g.s.RevokedAt.IsZero() {
		return false
	}
	g.s.RevokedAt = now
	return true
}

// ActiveScopes is the sorted union of the scopes of the grants active at t.
func ActiveScopes(grants []*Grant, t time.Time) []string {
	var out []string
	for _, g := range grants {
		if g.Active(t) {
			out = append(out, g.s.Scopes...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
