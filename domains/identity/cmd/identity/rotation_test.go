package main

import (
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/auth"
)

// TestRotatedKeyIsPublishedBeforeItSigns rotates with KEY_ACTIVATION_DELAY=5s: the JWKS lists
// the new key at once, tokens keep the old kid until the activation stored with the key, then
// carry the new one, and both verify — the new one also for a verifier that fetched the JWKS
// during the delay and may not fetch again. The server's clock is real, so each token is
// judged by its own iat against the stored activation (whole seconds; the second around the
// activation is not judged), and the test polls for the switch with a deadline.
func TestRotatedKeyIsPublishedBeforeItSigns(t *testing.T) {
	t.Parallel()
	m := startWith(t, map[string]string{"KEY_ACTIVATION_DELAY": "5s"})
	old, err := m.anon.GetJWKS(m.ctx, &identityv1.GetJWKSRequest{})
	if err != nil || len(old.GetKeyIds()) != 1 {
		t.Fatalf("GetJWKS %v, %v", old, err)
	}
	oldKid := old.GetKeyIds()[0]
	_, sa := m.serviceAccount(t, "rotation-watcher")
	issue := func() (tok, kid string, iat time.Time) {
		t.Helper()
		resp, err := m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: sa.GetClientId(), ClientSecret: sa.GetClientSecret()})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.ParseSigned(resp.GetAccessToken(), []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		var c jwt.Claims
		if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil {
			t.Fatal(err)
		}
		return resp.GetAccessToken(), parsed.Headers[0].KeyID, c.IssuedAt.Time()
	}

	rot, err := m.admin.api(t, m).RotateSigningKey(m.ctx, &identityv1.RotateSigningKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	newKid := rot.GetKeyId()
	var activate time.Time
	if err := m.pool.QueryRow(m.ctx, `SELECT active_from FROM signing_keys WHERE kid = $1`, newKid).Scan(&activate); err != nil {
		t.Fatal(err)
	}
	published, err := m.anon.GetJWKS(m.ctx, &identityv1.GetJWKSRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ids := published.GetKeyIds(); len(ids) != 2 || (ids[0] != oldKid && ids[1] != oldKid) || (ids[0] != newKid && ids[1] != newKid) {
		t.Fatalf("JWKS right after the rotation %v, want %s and %s", ids, oldKid, newKid)
	}
	// A verifier as another service has it, fetching the JWKS now and then not for an hour.
	strict, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: "http://" + m.httpAddr + "/.well-known/jwks.json",
		Issuer: "meshwork-identity", Audience: "meshwork", RefreshMinInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	var before, after string
	for deadline := time.Now().Add(waitLimit); after == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no token signed by %s by %v (activation %v)", newKid, time.Now(), activate)
		}
		tok, kid, iat := issue()
		switch {
		case !iat.Add(time.Second).After(activate): // issued before the activation
			if kid != oldKid {
				t.Fatalf("token issued at %v, before the activation at %v, signed by %s, want the old key %s", iat, activate, kid, oldKid)
			}
			if before == "" {
				before = tok
				if _, err := strict.Verify(m.ctx, tok); err != nil { // the verifier's one fetch
					t.Fatalf("old key: %v", err)
				}
			}
		case !iat.Before(activate): // issued at or after the activation
			if kid != newKid {
				t.Fatalf("token issued at %v, after the activation at %v, signed by %s, want the new key %s", iat, activate, kid, newKid)
			}
			after = tok
		}
	}
	if before == "" {
		t.Log("no token was issued clearly before the activation (slow machine); only the switch was checked")
	} else if _, err := strict.Verify(m.ctx, after); err != nil {
		t.Errorf("new key, verifier that fetched the JWKS during the delay: %v", err)
	}
	m.claims(t, after)
	m.claims(t, m.admin.access) // signed before the rotation
}
