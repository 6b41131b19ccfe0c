package postgres_test

import (
	"testing"
	"time"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/token"
)

func TestPruneKeepsWhatIsNeeded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.enrolled(t, "prune@example.com")
	now := postgres.Now()
	const day = 24 * time.Hour
	r := postgres.Retention{Audit: 400 * day, RefreshGrace: 7 * day, Batch: 2}

	save := func() token.Refresh {
		t.Helper()
		rt := token.NewRefresh("", now, time.Hour)
		if err := e.store.SaveRefresh(e.ctx, u.ID(), rt); err != nil {
			t.Fatal(err)
		}
		return rt
	}
	set := func(rt token.Refresh, column string, at time.Time) {
		t.Helper()
		if _, err := e.pool.Exec(e.ctx, `UPDATE refresh_tokens SET `+column+` = $2 WHERE token_hash = $1`, rt.Hash, at); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(rt token.Refresh) bool {
		t.Helper()
		var n int
		if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM refresh_tokens WHERE token_hash = $1`, rt.Hash).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	// A live family whose first token was spent and expired a day ago: within the grace.
	spent := save()
	r1, err := e.store.Refresh(e.ctx, spent.Hash, next, reuseEntry)
	if err != nil || r1.Outcome != token.Spend {
		t.Fatalf("refresh: %+v, %v", r1, err)
	}
	set(spent, "expires_at", now.Add(-day))
	// A live family whose first token was spent and expired beyond the grace.
	spentLongAgo := save()
	r2, err := e.store.Refresh(e.ctx, spentLongAgo.Hash, next, reuseEntry)
	if err != nil || r2.Outcome != token.Spend {
		t.Fatalf("refresh: %+v, %v", r2, err)
	}
	set(spentLongAgo, "expires_at", now.Add(-8*day))
	expiredLongAgo, expiredRecently := save(), save()
	set(expiredLongAgo, "expires_at", now.Add(-8*day))
	set(expiredRecently, "expires_at", now.Add(-6*day))
	revokedLongAgo, revokedRecently := save(), save()
	set(revokedLongAgo, "revoked_at", now.Add(-8*day))
	set(revokedRecently, "revoked_at", now.Add(-day))

	var before int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM audit_log`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	for _, age := range []time.Duration{401 * day, 402 * day, 403 * day, 399 * day} {
		if err := e.store.Audit(e.ctx, audit.Entry{At: now.Add(-age), Action: audit.LoginSucceeded, SubjectID: u.ID()}); err != nil {
			t.Fatal(err)
		}
	}
	for key, age := range map[string]time.Duration{"old": 25 * time.Hour, "new": time.Hour} {
		if _, err := e.pool.Exec(e.ctx, `INSERT INTO idempotency_keys (actor_id, operation, key, request_hash, created_at)
VALUES ('a', 'CreateUser', $1, '\x00', $2)`, key, now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}

	got, err := e.store.Prune(e.ctx, r, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (postgres.Pruned{RefreshTokens: 3, AuditEntries: 3, IdempotencyKeys: 1}); got != want {
		t.Errorf("pruned %+v, want %+v", got, want)
	}
	for name, want := range map[string]bool{
		"spent, expired within the grace": true, "spent, expired beyond the grace": false,
		"the next token of a family": true, "the next token of the other family": true,
		"expired beyond the grace": false, "expired within the grace": true,
		"revoked beyond the grace": false, "revoked within the grace": true,
	} {
		rt := map[string]token.Refresh{
			"spent, expired within the grace": spent, "spent, expired beyond the grace": spentLongAgo,
			"the next token of a family": r1.Next, "the next token of the other family": r2.Next,
			"expired beyond the grace": expiredLongAgo, "expired within the grace": expiredRecently,
			"revoked beyond the grace": revokedLongAgo, "revoked within the grace": revokedRecently,
		}[name]
		if exists(rt) != want {
			t.Errorf("%s: kept %v, want %v", name, !want, want)
		}
	}
	var after int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM audit_log WHERE at > $1`, now.Add(-400*day)).Scan(&after); err != nil || after != before+1 {
		t.Errorf("%d audit entries within the retention (%v), want %d", after, err, before+1)
	}
	var keys []string
	rows, _ := e.pool.Query(e.ctx, `SELECT key FROM idempotency_keys`)
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		keys = append(keys, k)
	}
	if len(keys) != 1 || keys[0] != "new" {
		t.Errorf("idempotency keys left %v, want [new]", keys)
	}

	// Reuse detection still works for the family within the grace: presenting its spent token
	// revokes the family, its live token included.
	reuse, err := e.store.Refresh(e.ctx, spent.Hash, next, reuseEntry)
	if err != nil || reuse.Outcome != token.Reused {
		t.Fatalf("reuse of the spent token after pruning: %+v, %v, want reused", reuse.Outcome, err)
	}
	if res, _ := e.store.Refresh(e.ctx, r1.Next.Hash, next, reuseEntry); res.Outcome != token.Refused {
		t.Errorf("the family's live token after reuse: %v, want refused", res.Outcome)
	}
	// The other family lives on.
	if res, _ := e.store.Refresh(e.ctx, r2.Next.Hash, next, reuseEntry); res.Outcome != token.Spend {
		t.Errorf("the other family's live token: %v, want spend", res.Outcome)
	}
	if again, err := e.store.Prune(e.ctx, r, now); err != nil || again.Any() {
		t.Errorf("second prune: %+v, %v", again, err)
	}
}
