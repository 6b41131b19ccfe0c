package localserver_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/platform/localserver"
)

// reachableDir returns a temporary directory that the postgres user can enter when the tests
// run as root (t.TempDir makes its directories 0700).
func reachableDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func startPostgres(t *testing.T, opts localserver.PostgresOptions) *localserver.Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := localserver.StartPostgres(ctx, opts)
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return pg
}

func pgExec(t *testing.T, url string, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// TestPostgresRestartReusesDataDir writes data, stops the server, starts it again on the same
// directory and reads the data back.
func TestPostgresRestartReusesDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(reachableDir(t), "pg")
	first := startPostgres(t, localserver.PostgresOptions{Dir: dir})
	ctx := context.Background()
	for range 2 { // CreateDatabase is idempotent
		if err := first.CreateDatabase(ctx, "app"); err != nil {
			t.Fatalf("CreateDatabase: %v", err)
		}
	}
	pgExec(t, first.URL("app"), "CREATE TABLE notes (body text)", "INSERT INTO notes VALUES ('kept')")
	for range 2 { // Stop is idempotent
		if err := first.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}

	second := startPostgres(t, localserver.PostgresOptions{Dir: dir})
	conn, err := pgx.Connect(ctx, second.URL("app"))
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	defer conn.Close(ctx)
	var body string
	if err := conn.QueryRow(ctx, "SELECT body FROM notes").Scan(&body); err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if body != "kept" {
		t.Fatalf("body = %q after restart, want kept", body)
	}
}

func TestPostgresDropDatabase(t *testing.T) {
	t.Parallel()
	pg := startPostgres(t, localserver.PostgresOptions{Dir: filepath.Join(reachableDir(t), "pg"), Ephemeral: true})
	ctx := context.Background()
	if err := pg.CreateDatabase(ctx, "Gone-Soon"); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	conn, err := pgx.Connect(ctx, pg.URL("Gone-Soon")) // an open connection does not block the drop
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := pg.DropDatabase(ctx, "Gone-Soon"); err != nil {
		t.Fatalf("DropDatabase: %v", err)
	}
	if _, err := pgx.Connect(ctx, pg.URL("Gone-Soon")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("connect after drop: %v, want database does not exist", err)
	}
}

func TestPostgresErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := localserver.StartPostgres(ctx, localserver.PostgresOptions{Dir: t.TempDir(), BinDir: "/nonexistent/bin"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") || strings.Contains(err.Error(), "\n") {
		t.Errorf("missing binaries: %v, want one line naming the package", err)
	}
	if os.Geteuid() == 0 {
		// t.TempDir is 0700 root: the postgres user cannot enter it.
		_, err := localserver.StartPostgres(ctx, localserver.PostgresOptions{Dir: filepath.Join(t.TempDir(), "pg")})
		if err == nil || !strings.Contains(err.Error(), "cannot enter") {
			t.Errorf("unreachable dir: %v, want the dir the postgres user cannot enter", err)
		}
	}
}

// TestPostgresPassword: with a password, a connection without it is refused on 127.0.0.1 and
// the socket, and URL carries it; a cluster made trusting is switched over when it next starts.
func TestPostgresPassword(t *testing.T) {
	t.Parallel()
	refused := func(t *testing.T, pg *localserver.Postgres) {
		t.Helper()
		ctx := context.Background()
		for _, url := range []string{
			fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.Port()),
			fmt.Sprintf("postgres://postgres:wrong@127.0.0.1:%d/postgres?sslmode=disable", pg.Port()),
			fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres", filepath.Join(pg.Dir(), "socket"), pg.Port()),
		} {
			conn, err := pgx.Connect(ctx, url)
			if err == nil {
				conn.Close(ctx)
				t.Errorf("connect %s: no error, want a password failure", strings.ReplaceAll(url, "wrong", "***"))
			} else if !strings.Contains(err.Error(), "password") {
				t.Errorf("connect without the password: %v, want a password failure", err)
			}
		}
		pgExec(t, pg.URL("postgres"), "SELECT 1")
		if !strings.Contains(pg.URL("postgres"), ":s3cr%27t-pw@") {
			t.Errorf("URL %q does not carry the password", pg.URL("postgres"))
		}
	}
	t.Run("fresh", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(reachableDir(t), "pg")
		pg := startPostgres(t, localserver.PostgresOptions{Dir: dir, Password: "s3cr't-pw", Ephemeral: true})
		refused(t, pg)
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".pgpass-*")); len(left) > 0 {
			t.Errorf("password file left behind: %v", left)
		}
	})
	t.Run("trusting cluster switched", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(reachableDir(t), "pg")
		trusting := startPostgres(t, localserver.PostgresOptions{Dir: dir, Ephemeral: true})
		pgExec(t, trusting.URL("postgres"), "CREATE TABLE kept (n int)")
		if err := trusting.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		pg := startPostgres(t, localserver.PostgresOptions{Dir: dir, Password: "s3cr't-pw", Ephemeral: true})
		refused(t, pg)
		pgExec(t, pg.URL("postgres"), "SELECT count(*) FROM kept")
		if err := pg.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		again := startPostgres(t, localserver.PostgresOptions{Dir: dir, Password: "s3cr't-pw", Ephemeral: true})
		refused(t, again)
	})
}
