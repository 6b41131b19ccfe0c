package main

import (
	"testing"
	"time"

	"meshwork.dev/domains/identity/postgres"
)

// TestPruningJobRuns checks the service runs the pruning job with its configured retention:
// an audit entry past AUDIT_RETENTION goes, a newer one stays. What is pruned and what is kept
// is tested in package postgres.
func TestPruningJobRuns(t *testing.T) {
	t.Parallel()
	m := startWith(t, map[string]string{"AUDIT_RETENTION": "1h", "PRUNE_INTERVAL": "50ms"})
	now := postgres.Now()
	for action, age := range map[string]time.Duration{"test.old": 2 * time.Hour, "test.recent": 30 * time.Minute} {
		if _, err := m.pool.Exec(m.ctx, `INSERT INTO audit_log (at, action) VALUES ($1, $2)`, now.Add(-age), action); err != nil {
			t.Fatal(err)
		}
	}
	count := func(action string) int {
		t.Helper()
		var n int
		if err := m.pool.QueryRow(m.ctx, `SELECT count(*) FROM audit_log WHERE action = $1`, action).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(waitLimit); count("test.old") > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the audit entry past AUDIT_RETENTION was not pruned")
		}
	}
	if count("test.recent") != 1 {
		t.Error("an audit entry within AUDIT_RETENTION was pruned")
	}
	if count("login.succeeded") == 0 {
		t.Error("the admin's sign-in was pruned")
	}
}
