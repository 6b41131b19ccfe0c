package auth

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"meshwork.dev/platform/errs"
)

func TestRevocations(t *testing.T) {
	t.Parallel()
	change := time.Date(2026, 11, 23, 10, 0, 0, 500_000_000, time.UTC)
	issued := func(sub string, at time.Time) *Claims {
		return &Claims{Subject: sub, IssuedAt: at.Truncate(time.Second)}
	}
	r := NewRevocations()
	r.Set("gone", false, change)
	r.Set("demoted", true, change)
	r.Set("fine", true, time.Time{})
	tests := []struct {
		c    *Claims
		want bool // refused
	}{
		{issued("gone", change.Add(time.Hour)), true},
		{issued("demoted", change.Add(-time.Second)), true},
		{issued("demoted", change), false}, // the second of the change: the benefit of the doubt
		{issued("demoted", change.Add(time.Minute)), false},
		{issued("fine", change.Add(-time.Hour)), false},
		{issued("stranger", change), false},
		{&Claims{Subject: "demoted"}, true}, // no iat: cannot be after the change
	}
	for _, tt := range tests {
		err := r.Check(tt.c)
		if refused := err != nil; refused != tt.want || (refused && !errs.Is(err, errs.Unauthenticated)) {
			t.Errorf("Check(%s issued %s) = %v, want refused %v", tt.c.Subject, tt.c.IssuedAt, err, tt.want)
		}
	}
	if r.Len() != 2 {
		t.Errorf("%d subjects remembered, want 2 (an active account without a change is forgotten)", r.Len())
	}

	// Reactivated: new tokens hold, those from before the deactivation still do not; a replayed
	// older change does not shorten it.
	r.Set("gone", true, time.Time{})
	r.Set("gone", true, change.Add(-time.Hour))
	if err := r.Check(issued("gone", change.Add(time.Hour))); err != nil {
		t.Errorf("token after reactivation: %v", err)
	}
	if err := r.Check(issued("gone", change.Add(-time.Minute))); err == nil {
		t.Error("token from before the deactivation accepted after reactivation")
	}
}

// TestVerifierRefusesRevokedTokens: a cached token is refused too once its account is revoked.
func TestVerifierRefusesRevokedTokens(t *testing.T) {
	t.Parallel()
	k1 := edKey(t, "k1")
	j := newJWKS(t, k1)
	revs := NewRevocations()
	v, err := NewVerifier(VerifierConfig{JWKSURL: j.url(), Issuer: testIssuer, Audience: testAudience, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := sign(t, jose.EdDSA, k1, claims(), nil)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	revs.Set("user-1", false, time.Now())
	if c, err := v.Verify(ctx, tok); !errs.Is(err, errs.Unauthenticated) || c != nil {
		t.Fatalf("deactivated account's cached token: %v, %v; want unauthenticated", c, err)
	}
	other := sign(t, jose.EdDSA, k1, claims(set("sub", "user-2"), set("jti", "t-2")), nil)
	if _, err := v.Verify(ctx, other); err != nil {
		t.Fatalf("another account's token: %v", err)
	}
}
