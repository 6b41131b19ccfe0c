package postgres_test

import (
	"context"
	"sync"
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
		errc := make(chan error, 3)
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { errc <- postgres.New(pool).Migrate(ctx) })
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
