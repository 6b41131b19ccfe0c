package testinfra_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/platform/testinfra"
)

// TestPostgresDatabasesAreSeparate runs two parallel tests that each create a table and
// checks that they got different databases, that neither sees the other's table, and that both
// databases are gone once the subtests have cleaned up.
func TestPostgresDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	admin := testinfra.StartPostgres(t) // a database of the parent test, used to look at the cluster
	var mu sync.Mutex
	var names []string
	t.Run("group", func(t *testing.T) {
		for _, table := range []string{"alpha", "beta"} {
			t.Run(table, func(t *testing.T) {
				t.Parallel()
				pg := testinfra.StartPostgres(t)
				mu.Lock()
				names = append(names, pg.Database)
				mu.Unlock()
				pool := pg.Pool(t)
				ctx := context.Background()
				if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (id int PRIMARY KEY, note text)"); err != nil {
					t.Fatalf("create table: %v", err)
				}
				if _, err := pool.Exec(ctx, "INSERT INTO "+table+" VALUES (1, 'x')"); err != nil {
					t.Fatalf("insert: %v", err)
				}
				var tables []string
				rows, _ := pool.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
				tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatalf("list tables: %v", err)
				}
				if len(tables) != 1 || tables[0] != table {
					t.Fatalf("tables in %s = %v, want only %s", pg.Database, tables, table)
				}
			})
		}
	})
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v, want two different ones", names)
	}
	conn, err := pgx.Connect(context.Background(), admin.URL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	for _, name := range append(names, admin.Database) {
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatalf("look up %s: %v", name, err)
		}
		want := 0
		if name == admin.Database {
			want = 1
		}
		if n != want {
			t.Errorf("database %s: %d in pg_database, want %d", name, n, want)
		}
	}
}
