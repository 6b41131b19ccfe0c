package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"meshwork.dev/platform/errs"
)

const (
	testIssuer   = "meshwork-identity"
	testAudience = "meshwork"
)

// jwks serves a mutable key set and counts fetches. While gate is non-nil, requests wait on it.
type jwks struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   []jose.JSONWebKey // public keys
	status int
	gate   chan struct{}
}

func newJWKS(t *testing.T, keys ...jose.JSONWebKey) *jwks {
	t.Helper()
	j := &jwks{status: http.StatusOK}
	for _, k := range keys {
		j.add(k)
	}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		gate, status := j.gate, j.status
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), j.keys...)}
		j.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if status != http.StatusOK {
			http.Error(w, "down", status)
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwks) add(k jose.JSONWebKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = append(j.keys, k.Public())
}

func (j *jwks) remove(kid string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, k := range j.keys {
		if k.KeyID == kid {
			j.keys = append(j.keys[:i], j.keys[i+1:]...)
			return
		}
	}
}

func (j *jwks) setStatus(code int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.status = code
}

func (j *jwks) url() string { return j.srv.URL + "/.well-known/jwks.json" }

// clock is a settable time source for the verifier's rate limiting and key ageing.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestVerifier(t *testing.T, j *jwks) (*Verifier, *clock) {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{JWKSURL: j.url(), Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	v.now = clk.Now
	return v, clk
}

func edKey(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"}
}

func ecKey(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// claims returns valid claims for the test issuer and audience, changed by edits.
func claims(edits ...func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": testIssuer, "aud": []string{testAudience, "other"}, "sub": "user-1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"roles": []string{"dispatcher"}, "scopes": []string{"quality:read"}, "jti": "t-1",
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func set(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
func del(k string) func(map[string]any)        { return func(c map[string]any) { delete(c, k) } }

// sign signs c with key under alg; opts may add headers.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, c map[string]any, opts *jose.SignerOptions) string {
	t.Helper()
	if opts == nil {
		opts = &jose.SignerOptions{}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts.WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// handBuilt assembles a compact JWS from a header, claims and a signature function, for the
// attacks a well-behaved library refuses to produce.
func handBuilt(t *testing.T, header map[string]any, c map[string]any, sig func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig([]byte(input)))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	k1, kEC := edKey(t, "k1"), ecKey(t, "k-ec")
	j := newJWKS(t, k1, kEC)
	v, _ := newTestVerifier(t, j)

	impostor := edKey(t, "k1") // a different key claiming k1's kid
	impostorEC := ecKey(t, "k1")
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubBytes := []byte(k1.Key.(ed25519.PrivateKey).Public().(ed25519.PublicKey))
	valid := sign(t, jose.EdDSA, k1, claims(), nil)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(must(json.Marshal(claims(set("roles", []string{"admin"}))))) + "." + parts[2]
	hmacWithPublicKey := func(input []byte) []byte {
		m := hmac.New(sha256.New, pubBytes)
		m.Write(input)
		return m.Sum(nil)
	}

	tests := []struct {
		name  string
		token string
		want  string // "" for success, else a substring of the error
	}{
		{"valid EdDSA", valid, ""},
		{"valid ES256", sign(t, jose.ES256, kEC, claims(), nil), ""},
		{"single audience string", sign(t, jose.EdDSA, k1, claims(set("aud", testAudience)), nil), ""},
		{"expired within leeway", sign(t, jose.EdDSA, k1, claims(set("exp", time.Now().Add(-10*time.Second).Unix())), nil), ""},
		{"expired", sign(t, jose.EdDSA, k1, claims(set("exp", time.Now().Add(-2*time.Minute).Unix())), nil), "token expired"},
		{"nbf in the future", sign(t, jose.EdDSA, k1, claims(set("nbf", time.Now().Add(5*time.Minute).Unix())), nil), "not valid yet"},
		{"iat in the future", sign(t, jose.EdDSA, k1, claims(set("iat", time.Now().Add(5*time.Minute).Unix())), nil), "issued in the future"},
		{"wrong audience", sign(t, jose.EdDSA, k1, claims(set("aud", "billing")), nil), "not for audience"},
		{"no audience", sign(t, jose.EdDSA, k1, claims(del("aud")), nil), "not for audience"},
		{"wrong issuer", sign(t, jose.EdDSA, k1, claims(set("iss", "evil")), nil), `wrong issuer "evil"`},
		{"no expiry", sign(t, jose.EdDSA, k1, claims(del("exp")), nil), "no expiry"},
		{"no subject", sign(t, jose.EdDSA, k1, claims(del("sub")), nil), "no subject"},
		{"no kid", sign(t, jose.EdDSA, k1.Key, claims(), nil), "no key id"},
		{"unknown kid", sign(t, jose.EdDSA, edKey(t, "k-unknown"), claims(), nil), `unknown signing key "k-unknown"`},
		{"different key, same kid", sign(t, jose.EdDSA, impostor, claims(), nil), "invalid signature"},
		{"embedded attacker jwk", sign(t, jose.EdDSA, impostor, claims(), (&jose.SignerOptions{EmbedJWK: true}).WithHeader("kid", "k1")), "invalid signature"},
		{"ES256 token naming an Ed25519 key", sign(t, jose.ES256, impostorEC, claims(), nil), "does not match key"},
		{"tampered payload", tampered, "invalid signature"},
		{"alg none", handBuilt(t, map[string]any{"alg": "none", "kid": "k1", "typ": "JWT"}, claims(),
			func([]byte) []byte { return nil }), `"none" is not allowed`},
		{"HS256 with the public key as secret", handBuilt(t, map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"}, claims(),
			hmacWithPublicKey), `"HS256" is not allowed`},
		{"RS256", sign(t, jose.RS256, jose.JSONWebKey{Key: rsaPriv, KeyID: "k1"}, claims(), nil), `"RS256" is not allowed`},
		{"empty", "", "missing token"},
		{"garbage", "not-a-jwt", "malformed token"},
		{"three empty parts", "..", "malformed token"},
		{"bad base64", "e30.e30.!!!", "malformed token"},
		{"five parts (JWE)", "a.b.c.d.e", "malformed token"},
		{"claims not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[2], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := v.Verify(context.Background(), tt.token)
			if tt.name == "claims not JSON" { // signature fails first: either reason is a refusal
				if err == nil {
					t.Fatal("accepted a token with non-JSON claims")
				}
				return
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "user-1" || !c.HasRole("dispatcher") || !c.HasScope("quality:read") || c.HasRole("admin") {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token, want %q", tt.want)
			}
			if k := errs.KindOf(err); k != errs.Unauthenticated {
				t.Errorf("kind = %v, want unauthenticated (%v)", k, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestVerifyClaimsFields(t *testing.T) {
	t.Parallel()
	k := edKey(t, "k1")
	v, _ := newTestVerifier(t, newJWKS(t, k))
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	c, err := v.Verify(context.Background(), sign(t, jose.EdDSA, k, claims(set("exp", exp.Unix())), nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Expiry.Equal(exp) || c.Issuer != testIssuer || c.ID != "t-1" || len(c.Audience) != 2 || c.IssuedAt.IsZero() {
		t.Errorf("claims = %+v", c)
	}
}

func TestNewVerifierRequiresSettings(t *testing.T) {
	t.Parallel()
	for _, cfg := range []VerifierConfig{
		{Issuer: "i", Audience: "a"},
		{JWKSURL: "http://x", Audience: "a"},
		{JWKSURL: "http://x", Issuer: "i"},
	} {
		if _, err := NewVerifier(cfg); !errs.Is(err, errs.Invalid) {
			t.Errorf("NewVerifier(%+v) = %v, want an invalid error", cfg, err)
		}
	}
}

func TestUnknownKidFloodIsRateLimitedAndCollapsed(t *testing.T) {
	t.Parallel()
	k1 := edKey(t, "k1")
	j := newJWKS(t, k1)
	v, clk := newTestVerifier(t, j)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jose.EdDSA, k1, claims(), nil)); err != nil {
		t.Fatal(err)
	}
	bogus := sign(t, jose.EdDSA, edKey(t, "bogus"), claims(), nil)

	flood := func() {
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if _, err := v.Verify(ctx, bogus); !errs.Is(err, errs.Unauthenticated) {
					t.Errorf("bogus kid: %v, want unauthenticated", err)
				}
			})
		}
		wg.Wait()
	}
	flood() // within RefreshMinInterval of the first fetch: no fetch at all
	if got := j.fetches.Load(); got != 1 {
		t.Fatalf("fetches after a flood right after the first fetch = %d, want 1", got)
	}

	clk.Advance(DefaultRefreshMinInterval)
	gate := make(chan struct{})
	j.mu.Lock()
	j.gate = gate
	j.mu.Unlock()
	done := make(chan struct{})
	go func() { flood(); close(done) }()
	// Every caller either waits on the one fetch or is rate limited; release the fetch.
	for j.fetches.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	<-done
	if got := j.fetches.Load(); got != 2 {
		t.Fatalf("fetches after a concurrent flood = %d, want 2 (one collapsed refresh)", got)
	}
}

func TestKeyRotationAndRevocation(t *testing.T) {
	t.Parallel()
	k1 := edKey(t, "k1")
	j := newJWKS(t, k1)
	v, clk := newTestVerifier(t, j)
	ctx := context.Background()
	old := sign(t, jose.EdDSA, k1, claims(), nil)
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}

	k2 := edKey(t, "k2")
	rotated := sign(t, jose.EdDSA, k2, claims(), nil)
	j.add(k2)
	clk.Advance(DefaultRefreshMinInterval)
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("token signed with a rotated-in key: %v", err)
	}
	if got := j.fetches.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2", got)
	}

	// k1 is withdrawn; once the cached set is older than MaxKeyAge it is fetched again and k1
	// stops working, while k2 keeps working.
	j.remove("k1")
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatalf("withdrawn key refused before the cache went stale: %v", err)
	}
	clk.Advance(DefaultMaxKeyAge)
	if _, err := v.Verify(ctx, old); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("withdrawn key after refresh: %v, want unauthenticated", err)
	}
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("current key after refresh: %v", err)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	k1 := edKey(t, "k1")
	j := newJWKS(t, k1)
	j.setStatus(http.StatusServiceUnavailable)
	v, clk := newTestVerifier(t, j)
	ctx := context.Background()
	tok := sign(t, jose.EdDSA, k1, claims(), nil)
	_, err := v.Verify(ctx, tok)
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Verify with identity down: %v, want unavailable", err)
	}
	if err := v.Refresh(ctx); err == nil {
		t.Error("Refresh reported success with identity down")
	}

	j.setStatus(http.StatusOK)
	clk.Advance(DefaultRefreshMinInterval)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify after identity came back: %v", err)
	}

	// Once keys are known, an outage on a stale refresh keeps using them.
	j.setStatus(http.StatusInternalServerError)
	clk.Advance(DefaultMaxKeyAge)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify with stale keys during an outage: %v", err)
	}
}

func TestJWKSSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	k1 := edKey(t, "k1")
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mislabelled := edKey(t, "k-mislabelled")
	mislabelled.Algorithm = string(jose.ES256)
	j := newJWKS(t, k1,
		jose.JSONWebKey{Key: &rsaPriv.PublicKey, KeyID: "k-rsa"},
		jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "k-p384"},
		mislabelled,
	)
	v, _ := newTestVerifier(t, j)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jose.EdDSA, k1, claims(), nil)); err != nil {
		t.Fatalf("usable key beside unusable ones: %v", err)
	}
	if _, err := v.Verify(ctx, sign(t, jose.EdDSA, mislabelled, claims(), nil)); err == nil {
		t.Error("accepted a key whose declared alg disagrees with its type")
	}
	v.mu.Lock()
	n := len(v.keys)
	v.mu.Unlock()
	if n != 1 {
		t.Errorf("cached %d keys, want only k1", n)
	}
}

func TestVerifiedTokensAreCached(t *testing.T) {
	t.Parallel()
	k1 := edKey(t, "k1")
	j := newJWKS(t, k1)
	v, clk := newTestVerifier(t, j)
	ctx := context.Background()
	tok := sign(t, jose.EdDSA, k1, claims(), nil)
	first, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := v.Verify(ctx, tok); err != nil || again != first {
		t.Fatalf("second Verify = %p, %v; want the cached claims %p", again, err, first)
	}
	clk.Advance(DefaultCacheTTL)
	again, err := v.Verify(ctx, tok)
	if err != nil || again == first {
		t.Fatalf("Verify after CacheTTL = %p, %v; want a fresh verification", again, err)
	}

	// Never past exp (plus leeway): the full check runs and refuses the token.
	soon := sign(t, jose.EdDSA, k1, claims(set("exp", clk.Now().Add(10*time.Second).Unix()), set("jti", "t-2")), nil)
	if _, err := v.Verify(ctx, soon); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10*time.Second + DefaultLeeway + time.Second)
	if _, err := v.Verify(ctx, soon); !errs.Is(err, errs.Unauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired cached token: %v, want unauthenticated (expired)", err)
	}

	// A key withdrawn from the key set takes its cached tokens with it at the next refresh.
	tok3 := sign(t, jose.EdDSA, k1, claims(set("jti", "t-3")), nil)
	if _, err := v.Verify(ctx, tok3); err != nil {
		t.Fatal(err)
	}
	j.add(edKey(t, "k2"))
	j.remove("k1")
	clk.Advance(DefaultRefreshMinInterval)
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok3); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("cached token of a withdrawn key: %v, want unauthenticated", err)
	}
}

func TestTokenCacheIsBoundedAndCanBeOff(t *testing.T) {
	t.Parallel()
	k1 := edKey(t, "k1")
	j := newJWKS(t, k1)
	ctx := context.Background()
	for _, size := range []int{-1, 2} {
		v, err := NewVerifier(VerifierConfig{JWKSURL: j.url(), Issuer: testIssuer, Audience: testAudience, CacheSize: size})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			tok := sign(t, jose.EdDSA, k1, claims(set("jti", fmt.Sprint("t-", i))), nil)
			a, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			b, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if cached := a == b; cached != (size > 0) {
				t.Errorf("CacheSize %d: second Verify cached = %v", size, cached)
			}
		}
		v.cacheMu.Lock()
		n := len(v.cache)
		v.cacheMu.Unlock()
		if n > max(size, 0) {
			t.Errorf("CacheSize %d: %d tokens cached", size, n)
		}
	}
}
