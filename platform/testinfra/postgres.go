package testinfra

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/platform/localserver"
)

// Postgres is a fresh database, owned by one test, in the test binary's shared cluster.
type Postgres struct {
	// URL connects to Database as the superuser postgres over 127.0.0.1.
	URL string
	// Database is the database's unique name.
	Database string
}

// pgCluster is the test binary's one Postgres cluster, started by the first StartPostgres.
var pgCluster struct {
	once sync.Once
	srv  *localserver.Postgres
	err  error
}

// dbSeq numbers databases so that names are unique within the cluster.
var dbSeq atomic.Int64

// StartPostgres creates a database with a unique name in the shared cluster (starting the
// cluster on first use) and drops it at t's cleanup. It fails t when the test binary does not
// use Main, or when the cluster cannot start (with the server's log tail).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	requireMain(t, "StartPostgres")
	pgCluster.once.Do(func() { pgCluster.srv, pgCluster.err = startCluster() })
	if pgCluster.err != nil {
		t.Fatalf("testinfra.StartPostgres: %v", pgCluster.err)
	}
	srv := pgCluster.srv
	name := databaseName(t.Name(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("testinfra.StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.DropDatabase(ctx, name); err != nil {
			t.Errorf("testinfra: drop database: %v", err)
		}
	})
	return &Postgres{URL: srv.URL(name), Database: name}
}

// startCluster starts the shared cluster in a new temporary directory and registers its stop.
// The directory is made enterable (0711) so the postgres user can reach its data dir when the
// tests run as root; the data dir itself is 0700 and owned by postgres.
func startCluster() (*localserver.Postgres, error) {
	base, err := os.MkdirTemp("", "testinfra-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(base, 0o711); err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := localserver.StartPostgres(ctx, localserver.PostgresOptions{
		Dir:       filepath.Join(base, "data"),
		Ephemeral: true,
	})
	if err != nil {
		_ = os.RemoveAll(base)
		return nil, err
	}
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := srv.Stop(ctx)
		if rmErr := os.RemoveAll(base); err == nil && rmErr != nil {
			err = fmt.Errorf("remove %s: %w", base, rmErr)
		}
		return err
	}
	if !addShared(stop) {
		_ = stop()
		return nil, fmt.Errorf("the tests have already finished")
	}
	return srv, nil
}

// databaseName turns a test name into a unique, valid database name (at most 63 bytes).
func databaseName(testName string, seq int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	slug := b.String()
	if len(slug) > 40 {
		slug = slug[:40]
	}
	return fmt.Sprintf("t%d_%s", seq, slug)
}

// Pool opens a connection pool on the database, closed at t's cleanup.
func (p *Postgres) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, p.URL)
	if err != nil {
		t.Fatalf("testinfra: open pool on %s: %v", p.Database, err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("testinfra: ping %s: %v", p.Database, err)
	}
	return pool
}
