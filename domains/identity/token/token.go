// Package token issues what identity hands out: EdDSA-signed JWT access tokens (verified by
// every service through platform/auth against identity's JWKS), opaque refresh tokens with
// rotation and reuse detection, and service-account client secrets. It also holds the
// signing keys and their rotation (keys.go). No I/O: stores persist keys and refresh tokens.
//
// # Sessions and audiences
//
// A full session's access token is for the mesh audience (JWT_AUDIENCE, "meshwork") and for
// identity's own audience (IdentityAudience, "meshwork/identity"). A sign-in that has not
// finished TOTP enrolment (or still holds an admin-issued one-time password) gets an
// enrolment token instead: identity's audience only, no roles, and the single scope
// grant.EnrollScope. Every other service verifies with the mesh audience, so an enrolment
// token opens nothing outside identity; identity verifies with its own audience and lets an
// enrolment token reach only the RPCs that finish enrolment (package rpc).
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/platform/errs"
)

// Defaults for Config.
const (
	DefaultIssuer    = "meshwork-identity"
	DefaultAudience  = "meshwork"
	DefaultAccessTTL = 15 * time.Minute
)

// IdentityAudience is the audience identity's own RPCs verify: the mesh audience with
// "/identity" appended.
func IdentityAudience(mesh string) string { return mesh + "/identity" }

// Config says what access tokens look like.
type Config struct {
	// Issuer is the "iss" claim.
	Issuer string
	// Audience is the mesh audience every service verifies.
	Audience string
	// AccessTTL is how long an access token lives.
	AccessTTL time.Duration
}

// Access describes the bearer of an access token.
type Access struct {
	// Subject is the user or service account id ("sub").
	Subject string
	// Roles are the bearer's roles ("roles").
	Roles []string
	// Scopes are the scopes of the bearer's active grants ("scopes").
	Scopes []string
	// ClientID is a service account's client id (svc-<name>), "client_id" as in RFC 9068; the
	// NATS callout knows the account's domain by it.
	ClientID string
	// Enrolment makes an enrolment-only token: identity's audience, no roles, and only the
	// scope grant.EnrollScope, whatever Roles and Scopes say.
	Enrolment bool
}

// Issued is a signed access token.
type Issued struct {
	// Token is the compact JWT.
	Token string
	// ID is its "jti".
	ID string
	// ExpiresAt is its "exp".
	ExpiresAt time.Time
}

// claims is the JWT payload; platform/auth reads the same names.
type claims struct {
	jwt.Claims
	Roles    []string `json:"roles,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
}

// Issuer signs access tokens with the Keyring's key that signs at the time of issue. It is
// safe for concurrent use.
type Issuer struct {
	cfg  Config
	keys *Keyring
}

// NewIssuer returns an Issuer; zero Config fields take the defaults.
func NewIssuer(cfg Config, keys *Keyring) *Issuer {
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	return &Issuer{cfg: cfg, keys: keys}
}

// Config returns the Issuer's configuration with defaults applied.
func (i *Issuer) Config() Config { return i.cfg }

// Keys returns the Issuer's keyring.
func (i *Issuer) Keys() *Keyring { return i.keys }

// Issue signs an access token for a, valid from now for the access TTL, with the key that
// signs at now.
func (i *Issuer) Issue(a Access, now time.Time) (Issued, error) {
	const op = "token.Issuer.Issue"
	if a.Subject == "" {
		return Issued{}, errs.E(op, errs.Internal, "access token without a subject")
	}
	exp := now.Add(i.cfg.AccessTTL)
	c := claims{
		Claims: jwt.Claims{
			Issuer:    i.cfg.Issuer,
			Subject:   a.Subject,
			Audience:  jwt.Audience{i.cfg.Audience, IdentityAudience(i.cfg.Audience)},
			Expiry:    jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		Roles:    slices.Clone(a.Roles),
		Scopes:   slices.Clone(a.Scopes),
		ClientID: a.ClientID,
	}
	if a.Enrolment {
		c.Audience = jwt.Audience{IdentityAudience(i.cfg.Audience)}
		c.Roles, c.Scopes = nil, []string{grant.EnrollScope}
	}
	_, signer := i.keys.signing(now)
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return Issued{}, errs.Errorf(op, errs.Internal, "sign: %w", err)
	}
	return Issued{Token: raw, ID: c.ID, ExpiresAt: exp}, nil
}

// randomToken returns prefix and 32 random bytes in unpadded base64url.
func randomToken(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is the SHA-256 of an opaque token or client secret: what storage keeps and looks up.
// 256 random bits need no salt or slow hash; see NewClientSecret.
func Hash(opaque string) []byte {
	sum := sha256.Sum256([]byte(opaque))
	return sum[:]
}

// NewClientSecret returns a service account's client secret and the hash to store. The
// secret is 32 random bytes, so SHA-256 protects it fully: a slow password hash only helps
// against guessable secrets, and spending 64 MiB of argon2id on every token request would
// let any caller exhaust identity's memory.
func NewClientSecret() (secret string, hash []byte) {
	secret = randomToken("mwcs_")
	return secret, Hash(secret)
}

// SecretMatches compares a presented secret with a stored hash in constant time.
func SecretMatches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(Hash(secret), hash) == 1
}

// ClientID is the client id of the service account called name.
func ClientID(name string) string { return "svc-" + name }
