package auth

import (
	"context"
	"slices"
	"time"
)

// Claims is what a verified token says about its bearer.
type Claims struct {
	// Subject identifies the user or service account ("sub").
	Subject string
	// Issuer is the token's "iss".
	Issuer string
	// Audience lists the token's "aud" values.
	Audience []string
	// Roles are the bearer's roles, e.g. "admin", "dispatcher".
	Roles []string
	// Scopes are the bearer's scopes, e.g. "quality:write".
	Scopes []string
	// ClientID is a service account's client id ("client_id", RFC 9068), e.g. svc-quality.
	ClientID string
	// ID is the token's "jti", if any.
	ID string
	// Expiry is when the token stops being valid ("exp").
	Expiry time.Time
	// IssuedAt is the token's "iat", zero if absent.
	IssuedAt time.Time
}

func newClaims(c *tokenClaims) *Claims {
	out := &Claims{
		Subject:  c.Subject,
		Issuer:   c.Issuer,
		Audience: []string(c.Audience),
		Roles:    c.Roles,
		Scopes:   c.Scopes,
		ClientID: c.ClientID,
		ID:       c.ID,
	}
	if c.Expiry != nil {
		out.Expiry = c.Expiry.Time()
	}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time()
	}
	return out
}

// HasRole reports whether the bearer has role. A nil *Claims has no roles.
func (c *Claims) HasRole(role string) bool {
	return c != nil && slices.Contains(c.Roles, role)
}

// HasScope reports whether the bearer has scope. A nil *Claims has no scopes.
func (c *Claims) HasScope(scope string) bool {
	return c != nil && slices.Contains(c.Scopes, scope)
}

type claimsKey struct{}

// WithClaims returns a copy of ctx carrying c.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the verified claims the Guard put into ctx. It reports false for a
// call that carried no valid token (possible only on public methods).
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
