package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"meshwork.dev/platform/errs"
)

// Defaults used when a VerifierConfig field is zero.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultRefreshMinInterval = 5 * time.Second
	DefaultMaxKeyAge          = 10 * time.Minute
	DefaultCacheSize          = 10000
	DefaultCacheTTL           = time.Minute
	defaultFetchTimeout       = 10 * time.Second
	maxJWKSBytes              = 1 << 20
)

// allowedAlgs are the only signature algorithms a token may use. Everything else — "none",
// the HMAC family, RSA — is refused while parsing, before any key is looked at.
var allowedAlgs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// VerifierConfig configures NewVerifier. JWKSURL, Issuer and Audience are required.
type VerifierConfig struct {
	// JWKSURL is where identity publishes its public keys.
	JWKSURL string
	// KeySet, when set, replaces the fetch from JWKSURL: it returns the JWKS document from
	// inside the process. Identity uses it to verify its own callers with its own keyring.
	KeySet func(ctx context.Context) ([]byte, error)
	// Issuer must equal a token's "iss".
	Issuer string
	// Audience must be one of a token's "aud" values.
	Audience string
	// HTTPClient fetches the JWKS; nil means a client with a 10s timeout.
	HTTPClient *http.Client
	// Leeway tolerates clock skew on exp, nbf and iat; zero means DefaultLeeway.
	Leeway time.Duration
	// RefreshMinInterval is the least time between two JWKS fetches, so tokens with made-up key
	// ids cannot hammer identity; zero means DefaultRefreshMinInterval.
	RefreshMinInterval time.Duration
	// MaxKeyAge is how long a fetched key set is trusted before it is fetched again (so revoked
	// keys disappear); zero means DefaultMaxKeyAge.
	MaxKeyAge time.Duration
	// CacheSize bounds how many verified tokens are remembered, so a caller's repeated token
	// skips the signature check; zero means DefaultCacheSize, negative turns the cache off.
	CacheSize int
	// CacheTTL is the longest a verified token is remembered (never past its exp); zero means
	// DefaultCacheTTL.
	CacheTTL time.Duration
	// Revocations, when set, refuses tokens identity has taken back since it issued them
	// (deactivated accounts, changed roles), cached or not.
	Revocations *Revocations
}

// verificationKey is a usable public key and the one algorithm it verifies.
type verificationKey struct {
	key any // ed25519.PublicKey or *ecdsa.PublicKey
	alg jose.SignatureAlgorithm
}

// Verifier verifies identity's JWTs. It is safe for concurrent use; concurrent refreshes of the
// key set collapse into one fetch.
type Verifier struct {
	cfg    VerifierConfig
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	keys      map[string]verificationKey
	fetchedAt time.Time     // last successful fetch
	triedAt   time.Time     // start of the last fetch, successful or not
	lastErr   error         // error of the last fetch, nil after a success
	inflight  chan struct{} // closed when the running fetch ends; nil when none runs

	cacheMu sync.Mutex
	cache   map[string]cachedToken // by raw token
}

// cachedToken is a token that passed Verify: its claims, the key that signed it, and until
// when it may be accepted without verifying it again.
type cachedToken struct {
	claims *Claims
	kid    string
	until  time.Time
}

// NewVerifier returns a Verifier. JWKSURL or KeySet is required. It does no I/O: the key set is fetched on first use, so a
// service can start before identity does.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	const op = "auth.NewVerifier"
	switch {
	case cfg.JWKSURL == "" && cfg.KeySet == nil:
		return nil, errs.E(op, errs.Invalid, "JWKSURL or KeySet is required")
	case cfg.Issuer == "":
		return nil, errs.E(op, errs.Invalid, "Issuer is required")
	case cfg.Audience == "":
		return nil, errs.E(op, errs.Invalid, "Audience is required")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.RefreshMinInterval == 0 {
		cfg.RefreshMinInterval = DefaultRefreshMinInterval
	}
	if cfg.MaxKeyAge == 0 {
		cfg.MaxKeyAge = DefaultMaxKeyAge
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultFetchTimeout}
	}
	return &Verifier{cfg: cfg, client: client, now: time.Now}, nil
}

// tokenClaims is the JSON payload of a token.
type tokenClaims struct {
	jwt.Claims
	Roles    []string `json:"roles,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
}

// Verify checks raw and returns its claims, which the caller must not modify. Every failure is
// an errs.Unauthenticated error whose message says why, except that a key set that cannot be
// fetched is errs.Unavailable.
//
// A token that verified is remembered (up to CacheSize tokens, each for at most CacheTTL and
// never past its exp plus Leeway) and accepted again without its signature check while the
// key that signed it is still in a key set younger than MaxKeyAge.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	const op = "auth.Verify"
	if raw == "" {
		return nil, errs.E(op, errs.Unauthenticated, "missing token")
	}
	if c, ok := v.cached(raw); ok {
		if err := v.revoked(op, c); err != nil {
			return nil, err
		}
		return c, nil
	}
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		if ua, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok && ua.Got != "" {
			return nil, errs.Errorf(op, errs.Unauthenticated, "signing algorithm %q is not allowed", ua.Got)
		}
		return nil, errs.E(op, errs.Unauthenticated, "malformed token")
	}
	if len(tok.Headers) != 1 {
		return nil, errs.E(op, errs.Unauthenticated, "token must have exactly one signature")
	}
	h := tok.Headers[0]
	if h.KeyID == "" {
		return nil, errs.E(op, errs.Unauthenticated, "token has no key id (kid)")
	}
	key, err := v.key(ctx, h.KeyID)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if jose.SignatureAlgorithm(h.Algorithm) != key.alg {
		return nil, errs.Errorf(op, errs.Unauthenticated, "algorithm %s does not match key %q (%s)", h.Algorithm, h.KeyID, key.alg)
	}
	var c tokenClaims
	if err := tok.Claims(key.key, &c); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, errs.E(op, errs.Unauthenticated, "invalid signature")
		}
		return nil, errs.E(op, errs.Unauthenticated, "malformed claims")
	}
	if err := v.validate(&c); err != nil {
		return nil, errs.Wrap(op, err)
	}
	claims := newClaims(&c)
	v.remember(raw, h.KeyID, claims)
	if err := v.revoked(op, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// revoked reports whether c was taken back since it was issued (VerifierConfig.Revocations).
func (v *Verifier) revoked(op string, c *Claims) error {
	if v.cfg.Revocations == nil {
		return nil
	}
	return errs.Wrap(op, v.cfg.Revocations.Check(c))
}

// cached returns the claims of raw if it verified recently and may be accepted still.
func (v *Verifier) cached(raw string) (*Claims, bool) {
	if v.cfg.CacheSize < 0 {
		return nil, false
	}
	v.cacheMu.Lock()
	t, ok := v.cache[raw]
	v.cacheMu.Unlock()
	now := v.now()
	if !ok || !now.Before(t.until) {
		return nil, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.keys[t.kid]; !ok || now.Sub(v.fetchedAt) >= v.cfg.MaxKeyAge {
		return nil, false // key gone or due for a refresh: verify in full
	}
	return t.claims, true
}

// remember caches a verified token. A full cache first drops its expired tokens, and all of
// them if that frees nothing: the cache only saves work, so forgetting is always safe.
func (v *Verifier) remember(raw, kid string, c *Claims) {
	if v.cfg.CacheSize < 0 {
		return
	}
	now := v.now()
	until := now.Add(v.cfg.CacheTTL)
	if exp := c.Expiry.Add(v.cfg.Leeway); exp.Before(until) {
		until = exp
	}
	v.cacheMu.Lock()
	defer v.cacheMu.Unlock()
	if v.cache == nil {
		v.cache = make(map[string]cachedToken)
	}
	if len(v.cache) >= v.cfg.CacheSize {
		for k, t := range v.cache {
			if !now.Before(t.until) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= v.cfg.CacheSize {
			clear(v.cache)
		}
	}
	v.cache[raw] = cachedToken{claims: c, kid: kid, until: until}
}

// validate checks the registered claims of a token whose signature is good.
func (v *Verifier) validate(c *tokenClaims) error {
	if c.Expiry == nil {
		return errs.E("", errs.Unauthenticated, "token has no expiry (exp)")
	}
	if c.Subject == "" {
		return errs.E("", errs.Unauthenticated, "token has no subject (sub)")
	}
	err := c.ValidateWithLeeway(jwt.Expected{
		Issuer:      v.cfg.Issuer,
		AnyAudience: jwt.Audience{v.cfg.Audience},
		Time:        v.now(),
	}, v.cfg.Leeway)
	var reason string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrExpired):
		reason = "token expired"
	case errors.Is(err, jwt.ErrNotValidYet):
		reason = "token not valid yet (nbf)"
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		reason = "token issued in the future (iat)"
	case errors.Is(err, jwt.ErrInvalidIssuer):
		reason = fmt.Sprintf("wrong issuer %q", c.Issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		reason = fmt.Sprintf("token is not for audience %q", v.cfg.Audience)
	default:
		reason = "invalid claims"
	}
	return errs.E("", errs.Unauthenticated, reason)
}

// Refresh fetches the key set now, subject to RefreshMinInterval (a fetch that is too soon
// after the last one is skipped and the last result reported). Services may call it at start-up
// to warm the cache; Verify refreshes on its own.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.mu.Lock()
	ch := v.startFetchLocked()
	v.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return errs.Wrap("auth.Verifier.Refresh", ctx.Err())
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastErr
}

// key returns the key with id kid, fetching the key set when kid is unknown or the set is
// older than MaxKeyAge and the last fetch is at least RefreshMinInterval ago.
func (v *Verifier) key(ctx context.Context, kid string) (verificationKey, error) {
	v.mu.Lock()
	k, ok := v.keys[kid]
	if ok && v.now().Sub(v.fetchedAt) < v.cfg.MaxKeyAge {
		v.mu.Unlock()
		return k, nil
	}
	ch := v.startFetchLocked()
	v.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return verificationKey{}, &errs.Error{Kind: errs.Unavailable, Msg: "waiting for the key set", Err: ctx.Err()}
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil // a stale key is still used while identity cannot be reached
	}
	if v.keys == nil && v.lastErr != nil {
		return verificationKey{}, &errs.Error{Kind: errs.Unavailable, Msg: "signing keys unavailable", Err: v.lastErr}
	}
	return verificationKey{}, errs.Errorf("", errs.Unauthenticated, "unknown signing key %q", kid)
}

// startFetchLocked starts a fetch unless one is running or the last began less than
// RefreshMinInterval ago, and returns the channel to wait on, or nil when there is nothing to
// wait for. v.mu must be held.
func (v *Verifier) startFetchLocked() chan struct{} {
	if v.inflight != nil {
		return v.inflight
	}
	now := v.now()
	if !v.triedAt.IsZero() && now.Sub(v.triedAt) < v.cfg.RefreshMinInterval {
		return nil
	}
	v.triedAt = now
	ch := make(chan struct{})
	v.inflight = ch
	// The fetch has its own deadline: one caller giving up must not fail the others waiting.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), defaultFetchTimeout)
		keys, err := v.fetch(ctx)
		cancel()
		v.mu.Lock()
		if err == nil {
			v.keys, v.fetchedAt = keys, v.now()
		}
		v.lastErr = err
		v.inflight = nil
		v.mu.Unlock()
		close(ch)
	}()
	return ch
}

// fetch downloads and parses the key set, keeping only public signing keys this package can
// use: Ed25519 (EdDSA) and P-256 ECDSA (ES256) keys with a kid.
func (v *Verifier) fetch(ctx context.Context) (map[string]verificationKey, error) {
	const op = "auth.fetchJWKS"
	body, err := v.readJWKS(ctx)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errs.Wrap(op, fmt.Errorf("decode %s: %w", v.source(), err))
	}
	keys := make(map[string]verificationKey, len(set.Keys))
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if jwk.UnmarshalJSON(raw) != nil || jwk.KeyID == "" || (jwk.Use != "" && jwk.Use != "sig") {
			continue // a key this package cannot use must not hide the others
		}
		if !jwk.IsPublic() {
			jwk = jwk.Public()
		}
		if k, ok := usableKey(jwk); ok {
			keys[jwk.KeyID] = k
		}
	}
	if len(keys) == 0 {
		return nil, errs.Errorf(op, errs.Unavailable, "%s has no usable signing keys", v.source())
	}
	return keys, nil
}

// source names where the key set comes from, for error messages.
func (v *Verifier) source() string {
	if v.cfg.KeySet != nil {
		return "the in-process key set"
	}
	return v.cfg.JWKSURL
}

// readJWKS returns the key set document, from KeySet or from JWKSURL.
func (v *Verifier) readJWKS(ctx context.Context) ([]byte, error) {
	const op = "auth.fetchJWKS"
	if v.cfg.KeySet != nil {
		b, err := v.cfg.KeySet(ctx)
		if err != nil {
			return nil, errs.Wrap(op, err)
		}
		return b, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errs.Errorf(op, errs.Unavailable, "GET %s: %s", v.cfg.JWKSURL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return b, nil
}

// usableKey reports the algorithm jwk verifies, refusing keys whose declared "alg" disagrees.
func usableKey(jwk jose.JSONWebKey) (verificationKey, bool) {
	var k verificationKey
	switch pub := jwk.Key.(type) {
	case ed25519.PublicKey:
		k = verificationKey{key: pub, alg: jose.EdDSA}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return k, false
		}
		k = verificationKey{key: pub, alg: jose.ES256}
	default:
		return k, false
	}
	if jwk.Algorithm != "" && jose.SignatureAlgorithm(jwk.Algorithm) != k.alg {
		return k, false
	}
	return k, true
}
