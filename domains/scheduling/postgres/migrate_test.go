package postgres_test

import (
	"context"
	"testing"
	"time"

	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/platform/testinfra"
)

// TestConcurrentMigrate: replicas started together migrate a fresh database at the same
// moment (several rounds, the schema dropped between them); every replica succeeds.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := testinfra.StartPostgres(t).Pool(t)
	for round := range 5 {
		if _, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
			t.Fatal(err)
		}
		if !testinfra.Together(t, 3, func(int) error { return postgres.New(pool).Migrate(ctx) }) {
			t.Fatalf("round %d: a concurrent migration failed", round)
		}
	}
}
