package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Dir is the cluster's data directory (PGDATA). StartPostgres runs initdb when it holds no
	// cluster and reuses the cluster otherwise. The Unix socket lives in Dir/socket. When this
	// process is root the server runs as the postgres OS user: Dir is created and chowned to it,
	// and every directory above Dir must be enterable by it (StartPostgres says which one is not).
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// BinDir holds initdb and postgres; "" means the newest /usr/lib/postgresql/*/bin.
	BinDir string
	// Ephemeral trades durability for speed (fsync, synchronous_commit and full_page_writes off):
	// for throwaway test clusters only.
	Ephemeral bool
	// Stdout and Stderr receive the server's log; nil discards it (its tail still goes into errors).
	Stdout, Stderr io.Writer
}

// Postgres is a running PostgreSQL server with trust authentication on 127.0.0.1 and the
// superuser postgres.
type Postgres struct {
	dir  string
	port int
	proc *process
}

// StartPostgres starts (and first initialises, if needed) a cluster in opts.Dir and returns once
// it accepts connections.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	const op = "localserver.StartPostgres"
	if opts.Dir == "" {
		return nil, fmt.Errorf("%s: Dir is required", op)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	bin, err := postgresBinDir(opts.BinDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	acct, err := serverAccount("postgres")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := acct.mkdirOwned(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: data dir: %w", op, err)
	}
	if err := acct.checkReachable(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := initCluster(ctx, bin, dir, acct, opts.Ephemeral); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	sockDir := filepath.Join(dir, "socket")
	if err := acct.mkdirOwned(sockDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: socket dir: %w", op, err)
	}
	for attempt := 1; ; attempt++ {
		p, err := startPostgresOnce(ctx, bin, dir, sockDir, acct, opts)
		if err == nil {
			return p, nil
		}
		if opts.Port != 0 || attempt == 3 || !portTaken(err) {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
}

// startPostgresOnce starts the server on one port and waits until it answers.
func startPostgresOnce(ctx context.Context, bin, dir, sockDir string, acct runAs, opts PostgresOptions) (*Postgres, error) {
	port, err := portOrFree(opts.Port)
	if err != nil {
		return nil, err
	}
	// The kernel limits a Unix socket path to 107 bytes.
	if sock := filepath.Join(sockDir, ".s.PGSQL."+strconv.Itoa(port)); len(sock) > 107 {
		return nil, fmt.Errorf("socket path %s is longer than 107 bytes: choose a shorter Dir", sock)
	}
	args := []string{"-D", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port=" + strconv.Itoa(port),
		"-c", "unix_socket_directories=" + sockDir,
		"-c", "max_connections=200",
	}
	if opts.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = dir
	cmd.SysProcAttr = acct.sysProcAttr()
	// SIGINT is Postgres's fast shutdown, what pg_ctl stop -m fast sends.
	proc, err := startProcess("postgres", cmd, opts.Stdout, opts.Stderr, syscall.SIGINT)
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, port: port, proc: proc}
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Stop(stopCtx)
		return nil, err
	}
	return p, nil
}

// postgresBinDir returns dir, or the newest /usr/lib/postgresql/*/bin holding a postgres binary.
func postgresBinDir(dir string) (string, error) {
	const install = "apt-get install postgresql"
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
			return "", fmt.Errorf("no postgres binary in %s (%s): %w", dir, install, err)
		}
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	best, bestMajor := "", -1
	for _, f := range found {
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(f))))
		if err == nil && major > bestMajor {
			best, bestMajor = filepath.Dir(f), major
		}
	}
	if best == "" {
		return "", fmt.Errorf("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: %s", install)
	}
	return best, nil
}

// initCluster runs initdb in dir unless it already holds a cluster, which must then match the
// binaries' major version.
func initCluster(ctx context.Context, bin, dir string, acct runAs, ephemeral bool) error {
	major, err := binaryMajor(ctx, bin)
	if err != nil {
		return err
	}
	have, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if err == nil {
		if v := strings.TrimSpace(string(have)); v != major {
			return fmt.Errorf("%s holds a PostgreSQL %s cluster but %s is PostgreSQL %s", dir, v, bin, major)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	args := []string{"-D", dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"}
	if ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Dir = dir
	cmd.SysProcAttr = acct.sysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w: %s", dir, err, strings.TrimSpace(string(out)))
	}
	// Trust only the local socket and 127.0.0.1; initdb's default also trusts ::1 and replication.
	hba := "# Written by meshwork localserver: trust on the socket and 127.0.0.1 only.\n" +
		"local all all trust\n" +
		"host  all all 127.0.0.1/32 trust\n"
	hbaPath := filepath.Join(dir, "pg_hba.conf")
	if err := os.WriteFile(hbaPath, []byte(hba), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if acct.switchTo {
		return os.Chown(hbaPath, int(acct.uid), int(acct.gid))
	}
	return nil
}

// binaryMajor returns the major version of bin/postgres, e.g. "15".
func binaryMajor(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("postgres --version: %w", err)
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return "", fmt.Errorf("postgres --version: unexpected %q", out)
	}
	major, _, _ := strings.Cut(fields[2], ".")
	return major, nil
}

// waitReady connects until the server answers, it exits, or d passes.
func (p *Postgres) waitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if !p.proc.running() {
			return p.proc.exitError()
		}
		err := p.exec(ctx, "postgres", "SELECT 1")
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w (last error: %v); log tail:\n%s", ctx.Err(), err, p.proc.log.String())
		case <-p.proc.exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exec runs one statement in database db.
func (p *Postgres) exec(ctx context.Context, db, sql string) error {
	cfg, err := pgx.ParseConfig(p.URL(db))
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 2 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// URL returns a connection URL for database on 127.0.0.1 as the superuser postgres.
func (p *Postgres) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, database)
}

// Port is the TCP port the server listens on.
func (p *Postgres) Port() int { return p.port }

// Dir is the cluster's data directory.
func (p *Postgres) Dir() string { return p.dir }

// CreateDatabase creates database name unless it exists.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) error {
	err := p.exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	// duplicate_database, or unique_violation when another session creates it at the same time
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localserver.Postgres.CreateDatabase %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops database name if it exists, ending its open connections first.
func (p *Postgres) DropDatabase(ctx context.Context, name string) error {
	if err := p.exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("localserver.Postgres.DropDatabase %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down the way pg_ctl stop -m fast does (rolling back open transactions
// and closing connections) and waits for it to exit. If ctx ends first the server is stopped
// immediately. It is safe to call more than once.
func (p *Postgres) Stop(ctx context.Context) error {
	if err := p.proc.stop(ctx, syscall.SIGINT, syscall.SIGQUIT); err != nil {
		return fmt.Errorf("localserver.Postgres.Stop: %w", err)
	}
	return nil
}
