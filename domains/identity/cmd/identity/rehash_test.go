package main

import (
	"testing"

	"google.golang.org/grpc/codes"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/password"
)

// storedHash reads the person's password hash straight from Postgres.
func (m *identityUnderTest) storedHash(t *testing.T, id string) string {
	t.Helper()
	var hash string
	if err := m.pool.QueryRow(m.ctx, `SELECT hash FROM password_credentials WHERE user_id = $1`, id).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	return hash
}

// TestLoginRehashesOldParameters stores a hash made with cheaper argon2id parameters, as an
// older release would have, and signs in through the gRPC API: a wrong password leaves it,
// the right one replaces it with a hash of the current parameters without ending sessions,
// and the password keeps working.
func TestLoginRehashesOldParameters(t *testing.T) {
	t.Parallel()
	m := start(t)
	p := m.person(t, "rehash", identityv1.Role_ROLE_ENGINEER)
	cheap, err := password.NewHasher(password.Params{Memory: 8 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if err != nil {
		t.Fatal(err)
	}
	old, err := cheap.Hash(m.ctx, p.password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.pool.Exec(m.ctx, `UPDATE password_credentials SET hash = $2 WHERE user_id = $1`, p.id, old); err != nil {
		t.Fatal(err)
	}

	_, err = m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: "not the password at all", TotpCode: p.code(t)})
	wantCode(t, "wrong password", err, codes.Unauthenticated)
	if got := m.storedHash(t, p.id); got != old {
		t.Fatal("a sign-in with a wrong password re-hashed")
	}

	if _, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, TotpCode: p.code(t)}); err != nil {
		t.Fatalf("login with the old hash: %v", err)
	}
	stored := m.storedHash(t, p.id)
	params, _, _, err := password.Decode(stored)
	if err != nil {
		t.Fatal(err)
	}
	if params != password.Default {
		t.Fatalf("stored parameters %+v after sign-in, want %+v", params, password.Default)
	}
	if ok, err := cheap.Verify(m.ctx, p.password, stored); err != nil || !ok {
		t.Fatalf("the new hash does not verify the password: %v, %v", ok, err)
	}
	var audited int
	if err := m.pool.QueryRow(m.ctx, `SELECT count(*) FROM audit_log WHERE action = 'user.password_rehashed' AND subject_id = $1
	AND details->>'from' = 'm=8192,t=2,p=1' AND details->>'to' = 'm=65536,t=1,p=1'`, p.id).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("%d audit entries user.password_rehashed (%v), want 1", audited, err)
	}
	// A re-hash is no password change: the session survives.
	if _, err := m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: p.refresh}); err != nil {
		t.Errorf("refresh after the re-hash: %v", err)
	}

	if _, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, TotpCode: p.code(t)}); err != nil {
		t.Fatalf("login with the new hash: %v", err)
	}
	if got := m.storedHash(t, p.id); got != stored {
		t.Error("a hash with the current parameters was re-hashed again")
	}
}
