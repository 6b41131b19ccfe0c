package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"meshwork.dev/platform/errs"
)

// SigningKey is one Ed25519 key that signs access tokens. Exactly one key is current (not
// retired); retired keys stay published in the JWKS until PublishUntil, so that tokens they
// signed keep verifying until those tokens have expired.
type SigningKey struct {
	// ID is the key id, the JWT "kid".
	ID string
	// Private is the private key; its public half is published.
	Private ed25519.PrivateKey
	// CreatedAt is when the key was made.
	CreatedAt time.Time
	// RetiredAt is when the key stopped signing; zero while it is current.
	RetiredAt time.Time
	// PublishUntil is when the key leaves the JWKS; zero while it is current.
	PublishUntil time.Time
}

// NewSigningKey makes a current key with a fresh id like "20260301-9f3ac2e1d07b".
func NewSigningKey(now time.Time) SigningKey {
	_, priv, _ := ed25519.GenerateKey(rand.Reader) // crypto/rand never fails
	var id [6]byte
	_, _ = rand.Read(id[:])
	return SigningKey{ID: now.UTC().Format("20060102") + "-" + hex.EncodeToString(id[:]), Private: priv, CreatedAt: now}
}

// Current reports whether k signs new tokens.
func (k SigningKey) Current() bool { return k.RetiredAt.IsZero() }

// Published reports whether k belongs in the JWKS at t.
func (k SigningKey) Published(t time.Time) bool {
	return k.PublishUntil.IsZero() || t.Before(k.PublishUntil)
}

// PublicJWK is k's public key as a JWK: kid, alg EdDSA, use sig.
func (k SigningKey) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"}
}

// Overlap is how long a retired key stays published after it stopped signing: the access
// token TTL (the last token it signed expires then), plus reload, the time other replicas may
// keep signing with it before they see the rotation, plus the verifiers' clock leeway.
func Overlap(accessTTL, reload time.Duration) time.Duration {
	const verifierLeeway = 30 * time.Second // platform/auth.DefaultLeeway
	return accessTTL + reload + verifierLeeway
}

// Rotate returns keys with every current key retired at now and published for overlap more,
// and next added as the current key.
func Rotate(keys []SigningKey, next SigningKey, now time.Time, overlap time.Duration) []SigningKey {
	out := make([]SigningKey, 0, len(keys)+1)
	out = append(out, next)
	for _, k := range keys {
		if k.Current() {
			k.RetiredAt, k.PublishUntil = now, now.Add(overlap)
		}
		out = append(out, k)
	}
	return out
}

// Keyring holds the signing keys a process uses: the current one signs, the published ones
// form the JWKS. It is safe for concurrent use; Set replaces the keys when they are reloaded
// from storage after a rotation.
type Keyring struct {
	mu      sync.RWMutex
	keys    []SigningKey // newest first
	current *SigningKey
	signer  jose.Signer // for current
}

// NewKeyring returns a Keyring holding keys; see Set.
func NewKeyring(keys []SigningKey) (*Keyring, error) {
	r := &Keyring{}
	if err := r.Set(keys); err != nil {
		return nil, err
	}
	return r, nil
}

// Set replaces the keys. Exactly one must be current.
func (r *Keyring) Set(keys []SigningKey) error {
	const op = "token.Keyring.Set"
	sorted := slices.Clone(keys)
	slices.SortStableFunc(sorted, func(a, b SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	var current *SigningKey
	for i := range sorted {
		if sorted[i].Current() {
			if current != nil {
				return errs.Errorf(op, errs.Internal, "two current signing keys, %s and %s", current.ID, sorted[i].ID)
			}
			current = &sorted[i]
		}
	}
	if current == nil {
		return errs.E(op, errs.Internal, "no current signing key")
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: current.Private, KeyID: current.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return errs.Errorf(op, errs.Internal, "signer: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys, r.current, r.signer = sorted, current, signer
	return nil
}

// signing returns the current key's id and signer.
func (r *Keyring) signing() (string, jose.Signer) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current.ID, r.signer
}

// CurrentID is the id of the key that signs now.
func (r *Keyring) CurrentID() string {
	id, _ := r.signing()
	return id
}

// JWKS returns the public keys published at t, the current key first.
func (r *Keyring) JWKS(t time.Time) jose.JSONWebKeySet {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{r.current.PublicJWK()}}
	for _, k := range r.keys {
		if !k.Current() && k.Published(t) {
			set.Keys = append(set.Keys, k.PublicJWK())
		}
	}
	return set
}

// Handler serves the JWKS published at now() as JSON, for /.well-known/jwks.json. Caches may
// keep it for a minute: verifiers fetch again on their own when a token names an unknown kid.
func (r *Keyring) Handler(now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body, err := json.Marshal(r.JWKS(now()))
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(body)
	})
}
