package launcher

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"meshwork.dev/platform/localserver"
	"meshwork.dev/platform/natsauth"
)

// InfraOptions configures StartInfra.
type InfraOptions struct {
	// Dir holds the servers' data (nats/, ferretdb/, postgres/, redis/) and logs/; it must be
	// absolute.
	Dir string
	// Ports are the servers' ports; zero ports are picked free.
	Ports Ports
	// Databases are created in Postgres if missing.
	Databases []string
	// PostgresFallback is the root of the Postgres data directory when the postgres user cannot
	// reach Dir (see the package doc); "" means /var/tmp.
	PostgresFallback string
	// Passwords are required of Postgres's and Redis's clients; empty ones leave the store open
	// to every local client (tests only).
	Passwords StorePasswords
	// NATSAuth, when set, makes NATS authenticate every client (natsauth): the catalog answers
	// its authorization requests.
	NATSAuth *natsauth.Keys
	// HA leaves NATS out: under Options.HA it is the cluster of node processes that Run
	// supervises (RunNATSNode, docs/adr/0006-nats-durability.md), and Endpoints has no NATS.
	HA bool
	// Say receives the launcher's notes, one line each, without the "[mesh] " prefix; nil drops them.
	Say func(format string, args ...any)
}

// Infra is the running infrastructure: NATS, FerretDB, Postgres and Redis.
type Infra struct {
	nats  *localserver.NATS // nil under HA
	ferr  *localserver.FerretDB
	pg    *localserver.Postgres
	redis *localserver.Redis
	logs  []*os.File
	ep    Endpoints
}

// StartInfra starts the four servers in Dir, creates the databases and returns once every
// server answers. A port already in use fails it before anything starts, with one line naming
// the port and the server. On any error what was started is stopped again.
func StartInfra(ctx context.Context, opts InfraOptions) (inf *Infra, err error) {
	const op = "launcher: infrastructure"
	if !filepath.IsAbs(opts.Dir) {
		return nil, fmt.Errorf("%s: Dir %q is not absolute", op, opts.Dir)
	}
	say := opts.Say
	if say == nil {
		say = func(string, ...any) {}
	}
	if opts.PostgresFallback == "" {
		opts.PostgresFallback = "/var/tmp"
	}
	if err := checkPorts(infraPorts(opts.Ports, opts.HA)); err != nil {
		return nil, err
	}
	logDir := filepath.Join(opts.Dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	inf = &Infra{ep: Endpoints{Logs: logDir}}
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = inf.Stop(stopCtx)
		}
	}()
	log := func(name string) (io.Writer, error) {
		f, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		inf.logs = append(inf.logs, f)
		fmt.Fprintf(f, "--- meshctl up %s ---\n", time.Now().Format(time.RFC3339))
		return f, nil
	}
	p := opts.Ports
	if !opts.HA {
		w, err := log("nats")
		if err != nil {
			return inf, err
		}
		inf.nats, err = localserver.StartNATS(localserver.NATSOptions{Dir: filepath.Join(opts.Dir, "nats"),
			Port: p.NATS, MonitorPort: p.NATSMonitor, MQTTPort: p.MQTT, Auth: opts.NATSAuth, Log: w})
		if err != nil {
			return inf, fmt.Errorf("%s: %w", op, err)
		}
	}
	w, err := log("ferretdb")
	if err != nil {
		return inf, err
	}
	inf.ferr, err = localserver.StartFerretDB(ctx, localserver.FerretDBOptions{Dir: filepath.Join(opts.Dir, "ferretdb"),
		Socket: ferretSocket(opts.Dir), Log: w})
	if err != nil {
		return inf, fmt.Errorf("%s: %w", op, err)
	}
	pgDir, why, err := postgresDataDir(opts.Dir, opts.PostgresFallback, p.Postgres)
	if err != nil {
		return inf, fmt.Errorf("%s: %w", op, err)
	}
	if why != "" {
		say("Postgres data in %s (%s)", pgDir, why)
	}
	if w, err = log("postgres"); err != nil {
		return inf, err
	}
	inf.pg, err = localserver.StartPostgres(ctx, localserver.PostgresOptions{Dir: pgDir, Port: p.Postgres,
		Password: opts.Passwords.Postgres, Stdout: w, Stderr: w})
	if err != nil {
		return inf, fmt.Errorf("%s: %w", op, err)
	}
	for _, db := range opts.Databases {
		if err := inf.pg.CreateDatabase(ctx, db); err != nil {
			return inf, fmt.Errorf("%s: %w", op, err)
		}
	}
	if w, err = log("redis"); err != nil {
		return inf, err
	}
	inf.redis, err = localserver.StartRedis(ctx, localserver.RedisOptions{Dir: filepath.Join(opts.Dir, "redis"), Port: p.Redis, Persist: true,
		Password: opts.Passwords.Redis, Stdout: w, Stderr: w})
	if err != nil {
		return inf, fmt.Errorf("%s: %w", op, err)
	}
	inf.ep = inf.endpoints(opts.Databases, logDir, opts.Passwords)
	return inf, nil
}

// ferretSocket is the path of FerretDB's Unix socket: Dir/run/ferretdb.sock, or when that is
// longer than a socket path may be, a directory of this user's in the temporary directory
// named for Dir.
func ferretSocket(dir string) string {
	sock := filepath.Join(dir, "run", "ferretdb.sock")
	if len(sock) <= 100 {
		return sock
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), fmt.Sprintf("meshwork-%d-%x", os.Getuid(), sum[:6]), "ferretdb.sock")
}

func (inf *Infra) endpoints(dbs []string, logDir string, pw StorePasswords) Endpoints {
	e := Endpoints{
		MongoDB:          inf.ferr.URI(),
		Postgres:         "postgres://postgres@" + net.JoinHostPort("127.0.0.1", strconv.Itoa(inf.pg.Port())),
		PostgresPassword: pw.Postgres,
		Databases:        map[string]string{},
		PostgresData:     inf.pg.Dir(),
		Redis:            "redis://" + inf.redis.Addr(),
		RedisPassword:    pw.Redis,
		Logs:             logDir,
	}
	if inf.nats != nil {
		e.NATS, e.NATSReplicas, e.NATSMonitor = inf.nats.URL(), 1, inf.nats.MonitorURL()
		if a := inf.nats.MQTTAddr(); a != "" {
			e.MQTT = "mqtt://" + a
		}
	}
	for _, db := range dbs {
		e.Databases[db] = e.Postgres + "/" + db + "?sslmode=disable"
	}
	return e
}

// Endpoints returns the servers' URLs.
func (inf *Infra) Endpoints() Endpoints { return inf.ep }

// Processes are the servers that run as processes of their own: Postgres and Redis.
func (inf *Infra) Processes() []Process {
	return []Process{{Name: "postgres", Kind: KindInfra, Replica: 1, PID: inf.pg.Pid()},
		{Name: "redis", Kind: KindInfra, Replica: 1, PID: inf.redis.Pid()}}
}

// Stop stops Redis, Postgres and FerretDB side by side (nothing uses them any more, and a
// slow Postgres checkpoint must not eat FerretDB's time), then NATS, and closes the logs. A
// server still running when ctx ends is killed. It is safe to call more than once.
func (inf *Infra) Stop(ctx context.Context) error {
	var stops []func(context.Context) error
	if inf.redis != nil {
		stops = append(stops, inf.redis.Stop)
	}
	if inf.pg != nil {
		stops = append(stops, inf.pg.Stop)
	}
	if inf.ferr != nil {
		stops = append(stops, inf.ferr.Stop)
	}
	errs := make([]error, len(stops))
	var wg sync.WaitGroup
	for i, stop := range stops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stop(ctx)
		}()
	}
	wg.Wait()
	if inf.nats != nil {
		inf.nats.Shutdown()
	}
	for _, f := range inf.logs {
		_ = f.Close() // a second Stop gets os.ErrClosed, which is no news
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("launcher: stop infrastructure: %w", err)
	}
	return nil
}

// namedPort is a port and the server that wants it, for the port-in-use message.
type namedPort struct {
	port   int
	server string
}

// infraPorts are the infrastructure's ports; under HA NATS's are the cluster's.
func infraPorts(p Ports, ha bool) []namedPort {
	nats := []namedPort{{p.NATS, "NATS"}, {p.NATSMonitor, "NATS monitoring"}, {p.MQTT, "NATS MQTT"}}
	if ha {
		nats = clusterPorts(p)
	}
	return append(nats, namedPort{p.Postgres, "Postgres"}, namedPort{p.Redis, "Redis"})
}

// distinctPorts returns one line naming the first non-zero port that two servers of the plan
// want (a replica's shifted port on another service's, say).
func distinctPorts(ports []namedPort) error {
	wanted := map[int]string{}
	for _, np := range ports {
		if other, ok := wanted[np.port]; ok && np.port != 0 {
			return fmt.Errorf("launcher: port %d is wanted by both %s and %s", np.port, other, np.server)
		}
		wanted[np.port] = np.server
	}
	return nil
}

// checkPorts returns one line naming the non-zero ports that cannot be bound on 127.0.0.1.
func checkPorts(ports []namedPort) error {
	var busy []string
	for _, np := range ports {
		if np.port == 0 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(np.port)))
		if err != nil {
			busy = append(busy, fmt.Sprintf("port %d (%s)", np.port, np.server))
			continue
		}
		_ = l.Close()
	}
	if len(busy) == 0 {
		return nil
	}
	verb := "is"
	if len(busy) > 1 {
		verb = "are"
	}
	return fmt.Errorf("launcher: %s %s already in use: is another `meshctl up` running?", strings.Join(busy, ", "), verb)
}
