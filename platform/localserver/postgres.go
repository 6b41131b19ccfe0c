package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
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
	// Password is the superuser postgres's password. With one, every connection, on the socket
	// as on 127.0.0.1, authenticates with SCRAM-SHA-256; a cluster initialised without one (trust)
	// is switched over when it next starts. "" keeps trust authentication (throwaway test
	// clusters only).
	Password string
	// Ephemeral trades durability for speed (fsync, synchronous_commit and full_page_writes off):
	// for throwaway test clusters only.
	Ephemeral bool
	// Stdout and Stderr receive the server's log; nil discards it (its tail still goes into errors).
	Stdout, Stderr io.Writer
}

// Postgres is a running PostgreSQL server on 127.0.0.1 with the superuser postgres, who
// authenticates with a password when the options gave one and is trusted otherwise.
type Postgres struct {
	dir      string
	port     int
	password string
	proc     *process
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
	if err := initCluster(ctx, bin, dir, acct, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	sockDir := filepath.Join(dir, "socket")
	if err := acct.mkdirOwned(sockDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: socket dir: %w", op, err)
	}
	for attempt := 1; ; attempt++ {
		p, err := startPostgresOnce(ctx, bin, dir, sockDir, acct, opts)
		if err == nil {
			if err := p.requirePassword(ctx, acct, opts.Password); err != nil {
				_ = p.Stop(context.WithoutCancel(ctx))
				return nil, fmt.Errorf("%s: %w", op, err)
			}
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
	p := &Postgres{dir: dir, port: port, password: opts.Password, proc: proc}
	if opts.Password != "" && hbaMethod(dir) == "trust" {
		p.password = "" // a cluster made without a password; requirePassword switches it over
	}
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
// binaries' major version. With a password the superuser gets it from initdb itself, so the
// new cluster never trusts anyone.
func initCluster(ctx context.Context, bin, dir string, acct runAs, opts PostgresOptions) error {
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
	method := "trust"
	args := []string{"-D", dir, "-U", "postgres", "--encoding=UTF8", "--locale=C", "--no-instructions"}
	if opts.Password != "" {
		method = "scram-sha-256"
		// initdb wants an empty data directory, so the password file sits beside it.
		pwfile, err := os.CreateTemp(filepath.Dir(dir), ".pgpass-*")
		if err != nil {
			return fmt.Errorf("password file: %w", err)
		}
		defer os.Remove(pwfile.Name())
		_, err = pwfile.WriteString(opts.Password + "\n")
		if cerr := pwfile.Close(); err == nil {
			err = cerr
		}
		if err == nil && acct.switchTo {
			err = os.Chown(pwfile.Name(), int(acct.uid), int(acct.gid))
		}
		if err != nil {
			return fmt.Errorf("password file: %w", err)
		}
		args = append(args, "--pwfile="+pwfile.Name())
	}
	args = append(args, "--auth="+method)
	if opts.Ephemeral {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Dir = dir
	cmd.SysProcAttr = acct.sysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w: %s", dir, err, strings.TrimSpace(string(out)))
	}
	return writeHBA(dir, acct, method)
}

// hbaHeader starts the pg_hba.conf localserver writes; the method follows it on the same line.
const hbaHeader = "# Written by meshwork localserver, the socket and 127.0.0.1 only: "

// writeHBA lets connections in on the local socket and 127.0.0.1 only, by method (trust or
// scram-sha-256); initdb's default also admits ::1 and replication.
func writeHBA(dir string, acct runAs, method string) error {
	hba := hbaHeader + method + "\n" +
		"local all all " + method + "\n" +
		"host  all all 127.0.0.1/32 " + method + "\n"
	path := filepath.Join(dir, "pg_hba.conf")
	if err := os.WriteFile(path, []byte(hba), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if acct.switchTo {
		return os.Chown(path, int(acct.uid), int(acct.gid))
	}
	return nil
}

// hbaMethod is the method of a pg_hba.conf that localserver wrote, "" for any other.
func hbaMethod(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "pg_hba.conf"))
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if m, ok := strings.CutPrefix(first, hbaHeader); ok {
		return m
	}
	// Clusters from before passwords: "# Written by meshwork localserver: trust on the socket ..."
	if strings.HasPrefix(first, "# Written by meshwork localserver: trust") {
		return "trust"
	}
	return ""
}

// requirePassword switches a cluster that trusts its clients over to password authentication:
// the superuser gets password, pg_hba.conf asks for it, and the server reloads. A cluster
// that already asks for a password is left alone (connecting with it proved it right).
func (p *Postgres) requirePassword(ctx context.Context, acct runAs, password string) error {
	if password == "" || p.password != "" {
		return nil
	}
	lit := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	if err := p.exec(ctx, "postgres", "ALTER ROLE postgres PASSWORD "+lit); err != nil {
		return fmt.Errorf("set the superuser's password: %w", err)
	}
	if err := writeHBA(p.dir, acct, "scram-sha-256"); err != nil {
		return err
	}
	if err := p.exec(ctx, "postgres", "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("reload pg_hba.conf: %w", err)
	}
	p.password = password
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

// URL returns a connection URL for database on 127.0.0.1 as the superuser postgres, with the
// password when there is one.
func (p *Postgres) URL(database string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: "127.0.0.1:" + strconv.Itoa(p.port),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	if p.password != "" {
		u.User = url.UserPassword("postgres", p.password)
	}
	return u.String()
}

// Port is the TCP port the server listens on.
func (p *Postgres) Port() int { return p.port }

// Pid is the server's process id.
func (p *Postgres) Pid() int { return p.proc.cmd.Process.Pid }

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
