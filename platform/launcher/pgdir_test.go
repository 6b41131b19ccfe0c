package launcher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresFallback puts .mesh under a 0700 directory: as root the postgres user cannot
// enter it, so the cluster must go under the fallback root, be announced, survive a restart,
// and stay there once the directory is opened up. Not as root, Postgres runs as this user and
// the data stays in .mesh.
func TestPostgresFallback(t *testing.T) {
	t.Parallel()
	base := reachableDir(t)
	private := filepath.Join(base, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(private, ".mesh")
	fallback := filepath.Join(base, "var-tmp")
	if err := os.Mkdir(fallback, 0o1777); err != nil {
		t.Fatal(err)
	}
	var said []string
	opts := InfraOptions{Dir: dir, Databases: []string{"quality"}, PostgresFallback: fallback,
		Say: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}
	want := filepath.Join(dir, "postgres")
	if os.Geteuid() == 0 {
		want = filepath.Join(fallback, "meshwork-"+pathHash(dir), "postgres")
	}

	inf := startInfra(t, opts)
	if got := inf.Endpoints().PostgresData; got != want {
		t.Fatalf("Postgres data in %s, want %s", got, want)
	}
	if os.Geteuid() == 0 {
		note := "Postgres data in " + want + " (the postgres user cannot enter " + private + ")"
		if len(said) != 1 || said[0] != note {
			t.Errorf("notes %q, want [%q]", said, note)
		}
	}
	pgExec(t, inf.Endpoints().PostgresURL("quality"), "CREATE TABLE notes (body text)", "INSERT INTO notes VALUES ('kept')")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := inf.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(private, 0o755); err != nil { // reachable now, but the data is elsewhere
		t.Fatal(err)
	}
	inf = startInfra(t, opts)
	if got := inf.Endpoints().PostgresData; got != want {
		t.Fatalf("after a restart Postgres data in %s, want %s", got, want)
	}
	if note := "Postgres data in " + want + " (kept there by an earlier run)"; os.Geteuid() == 0 && (len(said) != 2 || said[1] != note) {
		t.Errorf("notes %q, want the second to be %q", said, note)
	}
	conn, err := pgx.Connect(ctx, inf.Endpoints().PostgresURL("quality"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var body string
	if err := conn.QueryRow(ctx, "SELECT body FROM notes").Scan(&body); err != nil || body != "kept" {
		t.Errorf("after a restart: %q, %v", body, err)
	}
}

// TestPostgresDataDirSocketPath moves the data when its socket path would pass the kernel's limit.
func TestPostgresDataDirSocketPath(t *testing.T) {
	t.Parallel()
	fallback := reachableDir(t)
	long := filepath.Join(fallback, strings.Repeat("d", 90), ".mesh")
	got, why, err := postgresDataDir(long, fallback, 15432)
	if err != nil || got != filepath.Join(fallback, "meshwork-"+pathHash(long), "postgres") || !strings.Contains(why, "socket path") {
		t.Errorf("postgresDataDir(long) = %s, %q, %v: want the fallback because of the socket path", got, why, err)
	}
	short := filepath.Join(fallback, "short", ".mesh")
	if err := os.MkdirAll(short, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, why, err := postgresDataDir(short, fallback, 15432); err != nil || got != filepath.Join(short, "postgres") || why != "" {
		t.Errorf("postgresDataDir(short) = %s, %q, %v: want %s/postgres", got, why, err, short)
	}
}

func TestPathHash(t *testing.T) {
	t.Parallel()
	a, b := pathHash("/root/meshwork/.mesh"), pathHash("/root/other/.mesh")
	if len(a) != 12 || a == b || a != pathHash("/root/meshwork/.mesh") {
		t.Errorf("pathHash: %q, %q: want 12 stable hex digits differing by path", a, b)
	}
}
