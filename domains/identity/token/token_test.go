package token_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/platform/auth"
)

// clock is a settable time source for the JWKS handler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// fixture is an issuer with one key, its JWKS served over HTTP as identity serves it.
type fixture struct {
	ring   *token.Keyring
	iss    *token.Issuer
	clock  *clock
	url    string
	signer token.SigningKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key := token.NewSigningKey(time.Now())
	ring, err := token.NewKeyring([]token.SigningKey{key})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	srv := httptest.NewServer(ring.Handler(c.now))
	t.Cleanup(srv.Close)
	return &fixture{ring: ring, iss: token.NewIssuer(token.Config{}, ring), clock: c, url: srv.URL, signer: key}
}

// verifier is platform/auth's verifier, as every service builds it, for audience.
func (f *fixture) verifier(t *testing.T, audience string) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: f.url, Issuer: token.DefaultIssuer, Audience: audience,
		RefreshMinInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) issue(t *testing.T, a token.Access, at time.Time) string {
	t.Helper()
	iss, err := f.iss.Issue(a, at)
	if err != nil {
		t.Fatal(err)
	}
	return iss.Token
}

func TestIssuedTokensVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	issued, err := f.iss.Issue(token.Access{Subject: "u-1", Roles: []string{"admin", "engineer"}, Scopes: []string{"quality:read"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(15 * time.Minute); !issued.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v", issued.ExpiresAt, want)
	}
	for _, aud := range []string{token.DefaultAudience, token.IdentityAudience(token.DefaultAudience)} {
		c, err := f.verifier(t, aud).Verify(context.Background(), issued.Token)
		if err != nil {
			t.Fatalf("audience %s: %v", aud, err)
		}
		if c.Subject != "u-1" || !slices.Equal(c.Roles, []string{"admin", "engineer"}) ||
			!slices.Equal(c.Scopes, []string{"quality:read"}) || c.ID != issued.ID || c.Issuer != token.DefaultIssuer {
			t.Errorf("claims %+v", c)
		}
	}
	// The header names the key and the algorithm.
	parsed, err := jwt.ParseSigned(issued.Token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if h := parsed.Headers[0]; h.KeyID != f.signer.ID || h.Algorithm != "EdDSA" {
		t.Errorf("header %+v", h)
	}
}

func TestEnrolmentTokenOnlyOpensIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.issue(t, token.Access{Subject: "u-1", Roles: []string{"admin"}, Scopes: []string{"quality:read"}, Enrolment: true}, time.Now())
	if _, err := f.verifier(t, token.DefaultAudience).Verify(context.Background(), tok); err == nil {
		t.Fatal("the mesh audience accepted an enrolment token")
	}
	c, err := f.verifier(t, token.IdentityAudience(token.DefaultAudience)).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Roles) != 0 || !slices.Equal(c.Scopes, []string{grant.EnrollScope}) {
		t.Errorf("enrolment claims: roles %v scopes %v", c.Roles, c.Scopes)
	}
}

// b64 is JWT's base64url without padding.
func b64(v any) string {
	var raw []byte
	switch v := v.(type) {
	case []byte:
		raw = v
	default:
		raw, _ = json.Marshal(v)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestVerifierRejectsForgeries shows the platform verifier refusing identity-issued tokens
// that were altered, and tokens forged the classic ways.
func TestVerifierRejectsForgeries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	good := f.issue(t, token.Access{Subject: "u-1", Roles: []string{"engineer"}}, now)
	parts := strings.Split(good, ".")
	payload := map[string]any{
		"iss": token.DefaultIssuer, "aud": []string{token.DefaultAudience}, "sub": "u-1", "roles": []string{"admin"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}

	// Tampered: the payload says admin, the signature is the original's.
	tampered := parts[0] + "." + b64(payload) + "." + parts[2]
	// alg none, no signature.
	none := b64(map[string]string{"alg": "none", "typ": "JWT", "kid": f.signer.ID}) + "." + b64(payload) + "."
	// HS256 keyed with the published public key: the algorithm-confusion attack.
	hsInput := b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": f.signer.ID}) + "." + b64(payload)
	mac := hmac.New(sha256.New, f.signer.Private.Public().(ed25519.PublicKey))
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + b64(mac.Sum(nil))
	// Unknown kid: a well-formed EdDSA token from a key identity never published.
	stranger := token.NewSigningKey(now)
	strangerRing, _ := token.NewKeyring([]token.SigningKey{stranger})
	unknownKid, _ := token.NewIssuer(token.Config{}, strangerRing).Issue(token.Access{Subject: "u-1"}, now)
	// A token signed by the stranger's key but claiming identity's kid.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: stranger.Private, KeyID: f.signer.ID}}, nil)
	wrongKey, _ := jwt.Signed(signer).Claims(payload).Serialize()
	// Expired: issued two access TTLs ago.
	expired := f.issue(t, token.Access{Subject: "u-1"}, now.Add(-30*time.Minute))
	// Wrong issuer.
	otherIss, _ := token.NewIssuer(token.Config{Issuer: "someone-else"}, f.ring).Issue(token.Access{Subject: "u-1"}, now)
	// Wrong audience: tokens for another mesh.
	otherAud, _ := token.NewIssuer(token.Config{Audience: "other-mesh"}, f.ring).Issue(token.Access{Subject: "u-1"}, now)

	v := f.verifier(t, token.DefaultAudience)
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("the untouched token: %v", err)
	}
	for name, tok := range map[string]string{
		"tampered payload": tampered, "alg none": none, "HS256 with the public key": hs256,
		"unknown kid": unknownKid.Token, "signed by another key": wrongKey, "expired": expired,
		"wrong issuer": otherIss.Token, "wrong audience": otherAud.Token,
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := v.Verify(context.Background(), tok); err == nil {
				t.Fatalf("accepted, claims %+v", c)
			}
		})
	}
}

func TestRotationWithOverlap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	t0 := time.Now()
	v := f.verifier(t, token.DefaultAudience)
	old := f.issue(t, token.Access{Subject: "u-1"}, t0)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatal(err)
	}

	overlap := token.Overlap(15*time.Minute, time.Minute)
	next := token.NewSigningKey(t0)
	keys := token.Rotate([]token.SigningKey{f.signer}, next, t0, overlap)
	if err := f.ring.Set(keys); err != nil {
		t.Fatal(err)
	}
	if id := f.ring.SigningID(t0); id != next.ID {
		t.Fatalf("signing %s, want %s", id, next.ID)
	}
	fresh := f.issue(t, token.Access{Subject: "u-1"}, t0)
	// The verifier meets the new kid, fetches again, and still knows the old key.
	for name, tok := range map[string]string{"new key": fresh, "old key during overlap": old} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	ids := func(set jose.JSONWebKeySet) []string {
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	if got := ids(f.ring.JWKS(t0)); !slices.Equal(got, []string{next.ID, f.signer.ID}) {
		t.Errorf("JWKS during overlap %v, want current first then the retired key", got)
	}
	// Every token the old key signed has expired by the end of the overlap; then it goes.
	after := t0.Add(overlap)
	if got := ids(f.ring.JWKS(after)); !slices.Equal(got, []string{next.ID}) {
		t.Errorf("JWKS after the overlap %v", got)
	}
	f.clock.set(after)
	late := f.verifier(t, token.DefaultAudience) // a service starting after the overlap
	if _, err := late.Verify(context.Background(), old); err == nil {
		t.Error("a token of the retired key verified after its publication ended")
	}
	if _, err := late.Verify(context.Background(), fresh); err != nil {
		t.Errorf("new key after the overlap: %v", err)
	}
}

// kid returns the key id in a compact JWS's header.
func kid(t *testing.T, tok string) string {
	t.Helper()
	parsed, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Signatures[0].Header.KeyID
}

func TestRotatedKeyIsPublishedBeforeItSigns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The rotation happens one delay ago, so that tokens issued around the activation are
	// valid for platform/auth's verifier, which reads the real clock.
	delay := token.ActivationDelay(30 * time.Second)
	t0 := time.Now().Add(-delay)
	f.clock.set(t0)
	v := f.verifier(t, token.DefaultAudience)
	first := f.issue(t, token.Access{Subject: "u-1"}, t0)
	if _, err := v.Verify(context.Background(), first); err != nil { // the verifier fetched the JWKS
		t.Fatal(err)
	}

	next := token.NewSigningKey(t0)
	if err := f.ring.Set(token.Rotate([]token.SigningKey{f.signer}, next, t0.Add(delay), token.Overlap(15*time.Minute, 30*time.Second))); err != nil {
		t.Fatal(err)
	}
	ids := func(at time.Time) []string {
		var out []string
		for _, k := range f.ring.JWKS(at).Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	// Right after the rotation the new key is published but the old one still signs.
	if got := ids(t0); !slices.Equal(got, []string{f.signer.ID, next.ID}) {
		t.Errorf("JWKS right after the rotation %v, want the signing key then the new one", got)
	}
	before := f.issue(t, token.Access{Subject: "u-1"}, t0.Add(delay-time.Millisecond))
	if got := kid(t, before); got != f.signer.ID {
		t.Errorf("token issued before the activation signed by %s, want the old key %s", got, f.signer.ID)
	}
	// From the activation on the new key signs; the old one stays published.
	f.clock.set(t0.Add(delay))
	after := f.issue(t, token.Access{Subject: "u-1"}, t0.Add(delay))
	if got := kid(t, after); got != next.ID {
		t.Errorf("token issued at the activation signed by %s, want the new key %s", got, next.ID)
	}
	if got := ids(t0.Add(delay)); !slices.Equal(got, []string{next.ID, f.signer.ID}) {
		t.Errorf("JWKS after the activation %v", got)
	}
	// A verifier that fetched the JWKS during the delay knows the new key without fetching
	// again: it may not (RefreshMinInterval) and need not.
	f.clock.set(t0)
	strict, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: f.url, Issuer: token.DefaultIssuer, Audience: token.DefaultAudience,
		RefreshMinInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"before the activation": before, "the first token": first, "after the activation": after} {
		if _, err := strict.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := v.Verify(context.Background(), after); err != nil {
		t.Errorf("new key, verifier from before the rotation: %v", err)
	}
}

func TestKeyringRefusesBadSets(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a, b := token.NewSigningKey(now), token.NewSigningKey(now)
	if _, err := token.NewKeyring(nil); err == nil {
		t.Error("empty keyring accepted")
	}
	if _, err := token.NewKeyring([]token.SigningKey{a, b}); err == nil {
		t.Error("two current keys accepted")
	}
	retired := token.Rotate([]token.SigningKey{a}, b, now, time.Hour)[1]
	if _, err := token.NewKeyring([]token.SigningKey{retired}); err == nil {
		t.Error("only retired keys accepted")
	}
}

func TestCheckRefresh(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name string
		s    token.StoredRefresh
		want token.Outcome
	}{
		{"fresh", token.StoredRefresh{ExpiresAt: now.Add(time.Hour)}, token.Spend},
		{"spent", token.StoredRefresh{ExpiresAt: now.Add(time.Hour), UsedAt: now.Add(-time.Minute)}, token.Reused},
		{"expired", token.StoredRefresh{ExpiresAt: now}, token.Refused},
		{"revoked", token.StoredRefresh{ExpiresAt: now.Add(time.Hour), RevokedAt: now.Add(-time.Minute)}, token.Refused},
		{"spent and revoked", token.StoredRefresh{ExpiresAt: now.Add(time.Hour), UsedAt: now, RevokedAt: now}, token.Refused},
		{"spent after expiry", token.StoredRefresh{ExpiresAt: now.Add(-time.Hour), UsedAt: now.Add(-2 * time.Hour)}, token.Reused},
	}
	for _, tt := range tests {
		if got := token.CheckRefresh(tt.s, now); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOpaqueTokens(t *testing.T) {
	t.Parallel()
	r1 := token.NewRefresh("", time.Now(), time.Hour)
	r2 := token.NewRefresh(r1.FamilyID, time.Now(), time.Hour)
	if r1.Token == r2.Token || r1.FamilyID != r2.FamilyID || r1.FamilyID == "" {
		t.Errorf("refresh tokens %+v %+v", r1, r2)
	}
	if string(r1.Hash) != string(token.Hash(r1.Token)) || strings.Contains(string(r1.Hash), r1.Token) {
		t.Error("refresh hash is not the SHA-256 of the token")
	}
	secret, hash := token.NewClientSecret()
	if len(secret) < 40 || !token.SecretMatches(secret, hash) || token.SecretMatches(secret+"x", hash) {
		t.Errorf("client secret %q does not round-trip", secret)
	}
}

// BenchmarkIssue measures signing one access token with the current Ed25519 key.
func BenchmarkIssue(b *testing.B) {
	ring, err := token.NewKeyring([]token.SigningKey{token.NewSigningKey(time.Now())})
	if err != nil {
		b.Fatal(err)
	}
	iss := token.NewIssuer(token.Config{}, ring)
	a := token.Access{Subject: "0192f0c4-7d1e-7cc0-9b5e-3f1a2b3c4d5e", Roles: []string{"dispatcher"}, Scopes: []string{"quality:read", "quality:write"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Issue(a, now); err != nil {
			b.Fatal(err)
		}
	}
}
