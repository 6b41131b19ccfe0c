package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/errs"
)

// TestVerifierWithInProcessKeySet verifies against keys handed over by a function, as identity
// does with its own keyring: valid tokens pass, a rotated-in key is picked up through the same
// refresh-on-unknown-kid path, and a key source that fails before any key is known is Unavailable, not Unauthenticated.
func TestVerifierWithInProcessKeySet(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	var calls atomic.Int64
	var broken atomic.Bool
	keySet := func(ctx context.Context) ([]byte, error) {
		calls.Add(1)
		if broken.Load() {
			return nil, errors.New("keyring not loaded")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, iss.JWKSURL(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	v, err := NewVerifier(VerifierConfig{KeySet: keySet, Issuer: iss.Issuer, Audience: iss.Audience, RefreshMinInterval: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, iss.Token(t, "u1", []string{"admin"}, nil)); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	iss.Rotate(t)
	if _, err := v.Verify(ctx, iss.Token(t, "u1", nil, nil)); err != nil {
		t.Fatalf("token signed with a rotated-in key: %v", err)
	}
	if calls.Load() < 2 {
		t.Errorf("key set read %d times, want a refresh for the new kid", calls.Load())
	}
	broken.Store(true)
	cold, err := NewVerifier(VerifierConfig{KeySet: keySet, Issuer: iss.Issuer, Audience: iss.Audience})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cold.Verify(ctx, iss.Token(t, "u1", nil, nil)); errs.KindOf(err) != errs.Unavailable {
		t.Errorf("failing key source: %v (kind %v), want Unavailable", err, errs.KindOf(err))
	}
}
