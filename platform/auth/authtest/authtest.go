// Package authtest is a stand-in for identity in tests: it serves a JWKS over HTTP and signs
// tokens that an auth.Verifier configured with its JWKSURL, Issuer and Audience accepts.
//
//	iss := authtest.NewIssuer(t)
//	env["JWKS_URL"] = iss.JWKSURL()
//	token := iss.Token(t, "user-1", []string{"admin"}, []string{"quality:write"})
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Default issuer and audience, the same as platform/service's defaults.
const (
	DefaultIssuer   = "meshwork-identity"
	DefaultAudience = "meshwork"
)

// Issuer signs tokens with Ed25519 keys and publishes their public halves.
type Issuer struct {
	// Issuer is the "iss" of the tokens Token signs.
	Issuer string
	// Audience is the "aud" of the tokens Token signs.
	Audience string

	srv     *httptest.Server
	fetches atomic.Int64

	mu   sync.Mutex
	keys []jose.JSONWebKey // private keys; the last one signs
}

// NewIssuer starts an issuer with one key, using DefaultIssuer and DefaultAudience. The server
// is closed at tb's cleanup.
func NewIssuer(tb testing.TB) *Issuer {
	tb.Helper()
	i := &Issuer{Issuer: DefaultIssuer, Audience: DefaultAudience}
	i.Rotate(tb)
	i.srv = httptest.NewServer(http.HandlerFunc(i.serveJWKS))
	tb.Cleanup(i.srv.Close)
	return i
}

// JWKSURL is the URL of the published key set.
func (i *Issuer) JWKSURL() string { return i.srv.URL + "/.well-known/jwks.json" }

// Fetches counts the requests the JWKS endpoint has served.
func (i *Issuer) Fetches() int { return int(i.fetches.Load()) }

// KeyID is the kid of the key that signs now.
func (i *Issuer) KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1].KeyID
}

// Rotate adds a new signing key, published beside the old ones, and returns its kid.
func (i *Issuer) Rotate(tb testing.TB) string {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("authtest: generate key: %v", err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	kid := fmt.Sprintf("test-key-%d", len(i.keys)+1)
	i.keys = append(i.keys, jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"})
	return kid
}

// Token signs a token for subject with roles and scopes, valid for an hour from now.
func (i *Issuer) Token(tb testing.TB, subject string, roles, scopes []string) string {
	tb.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": i.Issuer,
		"aud": i.Audience,
		"sub": subject,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if roles != nil {
		claims["roles"] = roles
	}
	if scopes != nil {
		claims["scopes"] = scopes
	}
	return i.Sign(tb, claims)
}

// Sign signs exactly claims (no defaults added) with the current key.
func (i *Issuer) Sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	i.mu.Lock()
	key := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatalf("authtest: signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		tb.Fatalf("authtest: sign: %v", err)
	}
	return raw
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(i.keys))}
	for n, k := range i.keys {
		set.Keys[n] = k.Public()
	}
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}
