package migrate_test

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"meshwork.dev/platform/migrate"
	"meshwork.dev/platform/testinfra"
)

// files are two migrations in the shape the domains write them: tables and types created
// "if not exists", which still collide in Postgres's catalogs when run at the same time.
var files = fstest.MapFS{
	"0001_first.sql": {Data: []byte(`CREATE TABLE IF NOT EXISTS things (id text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS counts (n int NOT NULL);
INSERT INTO counts VALUES (1);`)},
	"0002_second.sql": {Data: []byte(`ALTER TABLE things ADD COLUMN IF NOT EXISTS label text;
INSERT INTO counts VALUES (2);`)},
}

// TestConcurrentApply: replicas starting together migrate one database at the same moment,
// round after round on a fresh schema; every one succeeds and each file runs once.
func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := testinfra.StartPostgres(t).Pool(t)
	for round := range 10 {
		if _, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
			t.Fatal(err)
		}
		if !testinfra.Together(t, 4, func(int) error { return migrate.Apply(ctx, pool, "test", files) }) {
			t.Fatalf("round %d: a concurrent migration failed", round)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM counts`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("round %d: %d rows in counts, %v; want each file run once (2)", round, n, err)
		}
	}
}

// TestApplyFailureLeavesNothing: a file that fails rolls back the files before it, so the
// next start applies them all again.
func TestApplyFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testinfra.StartPostgres(t).Pool(t)
	bad := fstest.MapFS{
		"0001_first.sql": files["0001_first.sql"],
		"0002_bad.sql":   {Data: []byte(`ALTER TABLE nowhere ADD COLUMN x int;`)},
	}
	if err := migrate.Apply(ctx, pool, "test", bad); err == nil {
		t.Fatal("a failing migration was applied")
	}
	if err := migrate.Apply(ctx, pool, "test", files); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM counts`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows in counts, %v; want 2", n, err)
	}
}
