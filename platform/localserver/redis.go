package localserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures StartRedis.
type RedisOptions struct {
	// Dir is the server's working directory, where it keeps its append-only file when Persist is set.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// BinPath is the redis-server binary; "" looks it up in PATH.
	BinPath string
	// Persist turns on the append-only file in Dir, so data survives a restart. Without it the
	// server keeps data in memory only.
	Persist bool
	// Password, when set, is required of every client (requirepass, for the default user). It is
	// handed to the server in a 0600 file in Dir, never on its command line.
	Password string
	// Stdout and Stderr receive the server's log; nil discards it (its tail still goes into errors).
	Stdout, Stderr io.Writer
}

// Redis is a running redis-server bound to 127.0.0.1.
type Redis struct {
	port     int
	password string
	proc     *process
}

// StartRedis starts redis-server and returns once it answers PING. When the port is picked
// here and another process takes it first, it tries again on another port.
func StartRedis(ctx context.Context, opts RedisOptions) (*Redis, error) {
	const op = "localserver.StartRedis"
	if opts.Dir == "" {
		return nil, fmt.Errorf("%s: Dir is required", op)
	}
	bin := opts.BinPath
	if bin == "" {
		bin = "redis-server"
	}
	bin, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%s: redis-server not found (apt-get install redis-server): %w", op, err)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for attempt := 1; ; attempt++ {
		r, err := startRedisOnce(ctx, bin, dir, opts)
		if err == nil {
			return r, nil
		}
		if opts.Port != 0 || attempt == 3 || !portTaken(err) {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
}

// startRedisOnce starts the server on one port and waits until it answers PING.
func startRedisOnce(ctx context.Context, bin, dir string, opts RedisOptions) (*Redis, error) {
	port, err := portOrFree(opts.Port)
	if err != nil {
		return nil, err
	}
	appendOnly := "no"
	if opts.Persist {
		appendOnly = "yes"
	}
	var args []string
	if opts.Password != "" {
		// A config file first, then options: the password stays out of ps's view.
		conf := filepath.Join(dir, "auth.conf")
		line := "requirepass \"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(opts.Password) + "\"\n"
		if err := os.WriteFile(conf, []byte(line), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", conf, err)
		}
		args = append(args, conf)
	}
	cmd := exec.Command(bin, append(args,
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--daemonize", "no",
		"--save", "",
		"--appendonly", appendOnly,
		"--logfile", "",
	)...)
	cmd.Dir = dir
	proc, err := startProcess("redis-server", cmd, opts.Stdout, opts.Stderr, syscall.SIGTERM)
	if err != nil {
		return nil, err
	}
	r := &Redis{port: port, password: opts.Password, proc: proc}
	if err := r.waitReady(ctx, 30*time.Second); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(stopCtx)
		return nil, err
	}
	return r, nil
}

// waitReady pings until the server answers, it exits, or d passes.
func (r *Redis) waitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), Password: r.password, MaxRetries: -1, DialTimeout: time.Second, PoolSize: 1})
	defer c.Close()
	for {
		if !r.proc.running() {
			return r.proc.exitError()
		}
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server not ready: %w (last error: %v); log tail:\n%s", ctx.Err(), err, r.proc.log.String())
		case <-r.proc.exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr is the server's host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL is the URL of database 0, redis://127.0.0.1:port/0, with the password when there is one
// (redis://:password@127.0.0.1:port/0, as redis.ParseURL reads it).
func (r *Redis) URL() string {
	u := url.URL{Scheme: "redis", Host: r.Addr(), Path: "/0"}
	if r.password != "" {
		u.User = url.UserPassword("", r.password)
	}
	return u.String()
}

// Pid is the server's process id.
func (r *Redis) Pid() int { return r.proc.cmd.Process.Pid }

// Stop shuts the server down (flushing the append-only file when Persist is set) and waits for
// it to exit; if ctx ends first the server is killed. It is safe to call more than once.
func (r *Redis) Stop(ctx context.Context) error {
	if err := r.proc.stop(ctx, syscall.SIGTERM, 0); err != nil {
		return fmt.Errorf("localserver.Redis.Stop: %w", err)
	}
	return nil
}
