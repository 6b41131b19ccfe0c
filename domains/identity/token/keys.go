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
// retired): the newest. A key is published in the JWKS from the moment it is stored, but signs
// only from ActiveFrom, so that verifiers can learn it before they meet it (ActivationDelay);
// at any time the published key with the latest ActiveFrom not after that time signs. Retired
// keys stay published until PublishUntil, so that tokens they signed keep verifying until
// those tokens have expired.
type SigningKey struct {
	// ID is the key id, the JWT "kid".
	ID string
	// Private is the private key; its public half is published.
	Private ed25519.PrivateKey
	// CreatedAt is when the key was made.
	CreatedAt time.Time
	// ActiveFrom is when the key starts signing; zero means CreatedAt (the first key signs at
	// once).
	ActiveFrom time.Time
	// RetiredAt is when the key stops signing (its successor's ActiveFrom); zero while it is
	// current.
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

// Current reports whether k is the newest key: it signs from its ActiveFrom on until a
// rotation retires it.
func (k SigningKey) Current() bool { return k.RetiredAt.IsZero() }

// Activation is when k starts signing: ActiveFrom, or CreatedAt when that is zero.
func (k SigningKey) Activation() time.Time {
	if k.ActiveFrom.IsZero() {
		return k.CreatedAt
	}
	return k.ActiveFrom
}

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

// ActivationDelay is how long a rotated-in key is published before it signs: the key reload
// interval (other replicas publish it only once they reloaded) plus the verifiers' minimum
// interval between JWKS fetches (platform/auth: 5 s) plus a margin. A verifier that met the
// new kid earlier could refuse the token until it may fetch again.
func ActivationDelay(reload time.Duration) time.Duration {
	const verifierRefresh, margin = 5 * time.Second, 25 * time.Second
	return reload + verifierRefresh + margin
}

// Rotate returns keys with every current key retired at activate and published for overlap
// more, and next added as the current key, signing from activate.
func Rotate(keys []SigningKey, next SigningKey, activate time.Time, overlap time.Duration) []SigningKey {
	out := make([]SigningKey, 0, len(keys)+1)
	next.ActiveFrom = activate
	out = append(out, next)
	for _, k := range keys {
		if k.Current() {
			k.RetiredAt, k.PublishUntil = activate, activate.Add(overlap)
		}
		out = append(out, k)
	}
	return out
}

// Keyring holds the signing keys a process uses: the published ones form the JWKS, and at
// any time the one with the latest activation not after it signs, so a rotated-in key takes
// over at its ActiveFrom without a reload. It is safe for concurrent use; Set replaces the
// keys when they are reloaded from storage after a rotation.
type Keyring struct {
	mu      sync.RWMutex
	keys    []SigningKey           // newest first
	signers map[string]jose.Signer // by key id
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
	signers := make(map[string]jose.Signer, len(sorted))
	for i, k := range sorted {
		if k.Current() {
			if current != nil {
				return errs.Errorf(op, errs.Internal, "two current signing keys, %s and %s", current.ID, k.ID)
			}
			current = &sorted[i]
		}
		signer, err := jose.NewSigner(
			jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			return errs.Errorf(op, errs.Internal, "signer %s: %w", k.ID, err)
		}
		signers[k.ID] = signer
	}
	if current == nil {
		return errs.E(op, errs.Internal, "no current signing key")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys, r.signers = sorted, signers
	return nil
}

// signingKey returns the key that signs at t: the one with the latest activation not after
// t (the newest of equals), or, if t is before every activation (a clock behind the one that
// made the first key), the earliest. The caller holds r.mu.
func (r *Keyring) signingKey(t time.Time) SigningKey {
	var best, earliest *SigningKey
	for i := range r.keys { // newest first
		k := &r.keys[i]
		if !k.Activation().After(t) && (best == nil || k.Activation().After(best.Activation())) {
			best = k
		}
		if earliest == nil || !k.Activation().After(earliest.Activation()) {
			earliest = k
		}
	}
	if best == nil {
		return *earliest
	}
	return *best
}

// signing returns the id and signer of the key that signs at t.
func (r *Keyring) signing(t time.Time) (string, jose.Signer) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k := r.signingKey(t)
	return k.ID, r.signers[k.ID]
}

// SigningID is the id of the key that signs at t.
func (r *Keyring) SigningID(t time.Time) string {
	id, _ := r.signing(t)
	return id
}

// JWKS returns the public keys published at t — a key not yet signing included — the key that
// signs at t first, then the others newest first.
func (r *Keyring) JWKS(t time.Time) jose.JSONWebKeySet {
	r.mu.RLock()
	defer r.mu.RUnlock()
	signing := r.signingKey(t)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{signing.PublicJWK()}}
	for _, k := range r.keys {
		if k.ID != signing.ID && k.Published(t) {
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
