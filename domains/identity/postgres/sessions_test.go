package postgres_test

import (
	"bytes"
	"testing"
	"time"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/user"
)

// enrolled creates a person who may hold a full session.
func (e env) enrolled(t *testing.T, email string) *user.User {
	t.Helper()
	u := e.person(t, email, user.Engineer)
	u, err := e.store.Update(e.ctx, u.ID(), func(u *user.User) error {
		u.MarkBootstrapped(postgres.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func next(family string) token.Refresh { return token.NewRefresh(family, postgres.Now(), time.Hour) }

func reuseEntry(u *user.User) audit.Entry {
	return audit.Entry{At: postgres.Now(), Action: audit.RefreshReuseDetected, SubjectID: u.ID()}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.enrolled(t, "r@example.com")
	first := token.NewRefresh("", postgres.Now(), time.Hour)
	if err := e.store.SaveRefresh(e.ctx, u.ID(), first); err != nil {
		t.Fatal(err)
	}
	r1, err := e.store.Refresh(e.ctx, first.Hash, next, reuseEntry)
	if err != nil || r1.Outcome != token.Spend || r1.Next.FamilyID != first.FamilyID || r1.User.ID() != u.ID() {
		t.Fatalf("first refresh: %+v, %v", r1, err)
	}
	r2, err := e.store.Refresh(e.ctx, r1.Next.Hash, next, reuseEntry)
	if err != nil || r2.Outcome != token.Spend {
		t.Fatalf("second refresh: %+v, %v", r2, err)
	}
	// The first token again: reuse. The whole family goes, the newest token included.
	reuse, err := e.store.Refresh(e.ctx, first.Hash, next, reuseEntry)
	if err != nil || reuse.Outcome != token.Reused {
		t.Fatalf("reuse: %+v, %v", reuse, err)
	}
	if r, _ := e.store.Refresh(e.ctx, r2.Next.Hash, next, reuseEntry); r.Outcome != token.Refused {
		t.Errorf("the family's newest token after reuse: %v, want refused", r.Outcome)
	}
	var revoked int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NOT NULL`, first.FamilyID).Scan(&revoked); err != nil || revoked != 3 {
		t.Errorf("%d revoked tokens in the family, want 3 (%v)", revoked, err)
	}
	entries, _ := e.store.AuditEntries(e.ctx, u.ID(), 10)
	if len(entries) == 0 || entries[0].Action != audit.RefreshReuseDetected {
		t.Errorf("audit %v", entries)
	}
	// Only hashes are stored.
	var n int
	_ = e.pool.QueryRow(e.ctx, `SELECT count(*) FROM refresh_tokens WHERE position($1::bytea in token_hash) > 0`, []byte(first.Token)).Scan(&n)
	if n != 0 || bytes.Equal(first.Hash, []byte(first.Token)) {
		t.Error("a refresh token is stored in clear")
	}
	// An unknown token is refused and changes nothing.
	if r, err := e.store.Refresh(e.ctx, token.Hash("nope"), next, reuseEntry); err != nil || r.Outcome != token.Refused || r.User != nil {
		t.Errorf("unknown token: %+v, %v", r, err)
	}
}

func TestRefreshRefusedWhenExpiredDeactivatedOrLoggedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.enrolled(t, "x@example.com")
	expired := token.NewRefresh("", postgres.Now().Add(-2*time.Hour), time.Hour)
	live := token.NewRefresh("", postgres.Now(), time.Hour)
	other := token.NewRefresh("", postgres.Now(), time.Hour)
	for _, r := range []token.Refresh{expired, live, other} {
		if err := e.store.SaveRefresh(e.ctx, u.ID(), r); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := e.store.Refresh(e.ctx, expired.Hash, next, reuseEntry); r.Outcome != token.Refused {
		t.Errorf("expired: %v", r.Outcome)
	}
	found, err := e.store.Logout(e.ctx, other.Hash, func(id string) audit.Entry { return audit.Entry{Action: audit.LoggedOut, SubjectID: id} })
	if err != nil || !found {
		t.Fatalf("logout: %v, %v", found, err)
	}
	if r, _ := e.store.Refresh(e.ctx, other.Hash, next, reuseEntry); r.Outcome != token.Refused {
		t.Errorf("after logout: %v", r.Outcome)
	}
	if _, err := e.store.Update(e.ctx, u.ID(), func(u *user.User) error { return u.Deactivate("admin", postgres.Now()) }); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.store.Refresh(e.ctx, live.Hash, next, reuseEntry); r.Outcome != token.Refused {
		t.Errorf("after deactivation: %v", r.Outcome)
	}
}

func TestSigningKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t0 := postgres.Now()
	first := token.NewSigningKey(t0)
	for i, want := range []bool{true, false} {
		created, err := e.store.EnsureSigningKey(e.ctx, token.NewSigningKey(t0))
		if i == 0 {
			first = mustKeys(t, e, t0)[0]
		}
		if err != nil || created != want {
			t.Fatalf("EnsureSigningKey #%d: %v, %v", i+1, created, err)
		}
	}
	next := token.NewSigningKey(t0.Add(time.Second))
	overlap := token.Overlap(15*time.Minute, 30*time.Second)
	if _, err := e.store.RotateSigningKey(e.ctx, next, 0, overlap); err != nil {
		t.Fatal(err)
	}
	keys := mustKeys(t, e, postgres.Now())
	if len(keys) != 2 || keys[0].ID != next.ID || !keys[0].Current() || keys[1].ID != first.ID || keys[1].Current() {
		t.Fatalf("keys after rotation %+v", keys)
	}
	if !keys[0].Private.Equal(next.Private) {
		t.Error("the private key did not round-trip")
	}
	if _, err := token.NewKeyring(keys); err != nil {
		t.Errorf("keyring from the store: %v", err)
	}
	if after := mustKeys(t, e, keys[1].PublishUntil); len(after) != 1 || after[0].ID != next.ID {
		t.Errorf("keys after the overlap %+v", after)
	}
	var sealed []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT sealed_private FROM signing_keys WHERE kid = $1`, next.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, next.Private.Seed()) {
		t.Error("the private key is stored in clear")
	}
}

func mustKeys(t *testing.T, e env, at time.Time) []token.SigningKey {
	t.Helper()
	keys, err := e.store.SigningKeys(e.ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRotationWithActivationDelay reloads the keys as a restarted or other replica would:
// the new key is published at once, the old one signs until the activation, then the new one.
func TestRotationWithActivationDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t0 := postgres.Now()
	if _, err := e.store.EnsureSigningKey(e.ctx, token.NewSigningKey(t0)); err != nil {
		t.Fatal(err)
	}
	first := mustKeys(t, e, t0)[0]
	if first.Activation() != first.CreatedAt {
		t.Errorf("the first key signs from %v, want at once (%v)", first.Activation(), first.CreatedAt)
	}
	next := token.NewSigningKey(t0.Add(time.Second))
	overlap := token.Overlap(15*time.Minute, 30*time.Second)
	activate, err := e.store.RotateSigningKey(e.ctx, next, time.Minute, overlap)
	if err != nil {
		t.Fatal(err)
	}
	if activate.Before(t0.Add(time.Minute)) {
		t.Errorf("activation %v, want a minute after %v", activate, t0)
	}
	keys := mustKeys(t, e, postgres.Now())
	if len(keys) != 2 || keys[0].ID != next.ID || !keys[0].ActiveFrom.Equal(activate) || !keys[1].RetiredAt.Equal(activate) ||
		!keys[1].PublishUntil.Equal(activate.Add(overlap)) {
		t.Fatalf("keys after rotation %+v", keys)
	}
	ring, err := token.NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	if id := ring.SigningID(activate.Add(-time.Microsecond)); id != first.ID {
		t.Errorf("before the activation %s signs, want the old key %s", id, first.ID)
	}
	if id := ring.SigningID(activate); id != next.ID {
		t.Errorf("at the activation %s signs, want the new key %s", id, next.ID)
	}
	// Rotating again before the activation: the pending key signs only until the newest
	// activates, and there is no moment without a signing key.
	third := token.NewSigningKey(t0.Add(2 * time.Second))
	activate3, err := e.store.RotateSigningKey(e.ctx, third, 2*time.Minute, overlap)
	if err != nil {
		t.Fatal(err)
	}
	ring, err = token.NewKeyring(mustKeys(t, e, postgres.Now()))
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[time.Time]string{t0: first.ID, activate: next.ID, activate3: third.ID} {
		if id := ring.SigningID(at); id != want {
			t.Errorf("at %v %s signs, want %s", at, id, want)
		}
	}
}
