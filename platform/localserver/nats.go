package localserver

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"meshwork.dev/platform/natsauth"
)

// NATSOptions configures StartNATS.
type NATSOptions struct {
	// Dir is the JetStream store directory; it is created if missing and reused if it holds streams.
	Dir string
	// Host is the interface every listener binds; "" means 127.0.0.1.
	Host string
	// Port is the client port; 0 picks a free one.
	Port int
	// MonitorPort is the HTTP monitoring port; 0 picks a free one, -1 disables monitoring.
	MonitorPort int
	// MQTTPort is the MQTT listener port; 0 picks a free one, -1 disables MQTT.
	MQTTPort int
	// ServerName names the server; MQTT requires one, so "" means "meshwork".
	ServerName string
	// Auth, when set, makes every client authenticate: the static users of natsauth.Configure
	// and Users, everyone else through the auth callout.
	Auth *natsauth.Keys
	// Users are extra static users (testinfra's test user); they need Auth.
	Users []natsauth.StaticUser
	// Cluster, when set, makes the server one node of a cluster (see NATSCluster).
	Cluster *ClusterOptions
	// SyncAlways fsyncs every JetStream write before the server acknowledges it
	// (`sync_interval: always`) instead of the server's default of at least every 2 minutes.
	// See docs/adr/0006-durability.md for why the cluster sets it and what it costs.
	SyncAlways bool
	// Log receives the server's notices, warnings and errors; nil discards them (their tail
	// still goes into start-up errors).
	Log io.Writer
}

// NATS is a running in-process nats-server with JetStream (and MQTT unless disabled).
type NATS struct {
	srv      *server.Server
	url      string
	mqtt     string
	monitor  string
	stopOnce sync.Once
}

// StartNATS starts an embedded nats-server and returns once it accepts client connections.
func StartNATS(opts NATSOptions) (*NATS, error) {
	const op = "localserver.StartNATS"
	if opts.Dir == "" {
		return nil, fmt.Errorf("%s: Dir is required for the JetStream store", op)
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	name := opts.ServerName
	if name == "" {
		name = "meshwork"
	}
	so := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       randomIfZero(opts.Port),
		JetStream:  true,
		StoreDir:   opts.Dir,
		NoSigs:     true,
	}
	if opts.Auth != nil {
		if err := natsauth.Configure(so, *opts.Auth, opts.Users...); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if opts.SyncAlways {
		so.SyncAlways = true
	}
	if opts.Cluster != nil {
		if err := opts.Cluster.apply(so, host); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if opts.MonitorPort != -1 {
		so.HTTPHost = host
		so.HTTPPort = randomIfZero(opts.MonitorPort)
	}
	if opts.MQTTPort != -1 {
		so.MQTT.Host = host
		so.MQTT.Port = randomIfZero(opts.MQTTPort)
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	log := &natsLogger{tail: newTailBuffer(8 << 10), w: opts.Log}
	srv.SetLogger(log, false, false)
	srv.Start()
	if err := readyNATS(srv, log, 10*time.Second); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%s: %w; log tail:\n%s", op, err, log.tail.String())
	}
	n := &NATS{srv: srv, url: srv.ClientURL()}
	if a := srv.MonitorAddr(); a != nil {
		n.monitor = "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
	}
	if so.MQTT.Port != 0 {
		// The server writes the port it bound back into its options; Varz reads them under its lock.
		v, err := srv.Varz(nil)
		if err != nil {
			n.Shutdown()
			return nil, fmt.Errorf("%s: read MQTT port: %w", op, err)
		}
		n.mqtt = net.JoinHostPort(host, strconv.Itoa(v.MQTT.Port))
	}
	return n, nil
}

// readyNATS waits until the server accepts clients, including on its MQTT listener, or
// until it logs a fatal error (such as a port it cannot bind) or d passes.
func readyNATS(srv *server.Server, log *natsLogger, d time.Duration) error {
	deadline := time.Now().Add(d)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		if log.fatal.Load() {
			return fmt.Errorf("nats-server failed to start")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nats-server not ready after %s", d)
		}
	}
	if !srv.JetStreamEnabled() {
		return fmt.Errorf("JetStream did not start")
	}
	return nil
}

func randomIfZero(port int) int {
	if port == 0 {
		return server.RANDOM_PORT
	}
	return port
}

// URL is the client URL, nats://host:port.
func (n *NATS) URL() string { return n.url }

// MQTTAddr is the MQTT listener's host:port, or "" when MQTT is disabled.
func (n *NATS) MQTTAddr() string { return n.mqtt }

// MonitorURL is the HTTP monitoring base URL, or "" when monitoring is disabled.
func (n *NATS) MonitorURL() string { return n.monitor }

// Server is the embedded server, for callers that need more than the URLs.
func (n *NATS) Server() *server.Server { return n.srv }

// Shutdown stops the server and waits until it is gone. It is safe to call more than once.
func (n *NATS) Shutdown() {
	n.stopOnce.Do(func() {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	})
}

// natsLogger keeps the server's log tail and copies it to w, if set. Unlike the server's own
// logger its Fatalf does not exit the process: StartNATS reports the failure instead.
type natsLogger struct {
	tail  *tailBuffer
	fatal atomic.Bool // set by Fatalf
	mu    sync.Mutex  // serialises writes to w
	w     io.Writer
}

func (l *natsLogger) log(level, format string, v ...any) {
	line := fmt.Sprintf("[%s] %s\n", level, fmt.Sprintf(format, v...))
	_, _ = l.tail.Write([]byte(line))
	if l.w != nil {
		l.mu.Lock()
		_, _ = io.WriteString(l.w, line)
		l.mu.Unlock()
	}
}

// Noticef logs a notice.
func (l *natsLogger) Noticef(format string, v ...any) { l.log("INF", format, v...) }

// Warnf logs a warning.
func (l *natsLogger) Warnf(format string, v ...any) { l.log("WRN", format, v...) }

// Errorf logs an error.
func (l *natsLogger) Errorf(format string, v ...any) { l.log("ERR", format, v...) }

// Fatalf logs a fatal error without exiting.
func (l *natsLogger) Fatalf(format string, v ...any) {
	l.log("FTL", format, v...)
	l.fatal.Store(true)
}

// Debugf discards debug output (debug logging is off).
func (l *natsLogger) Debugf(string, ...any) {}

// Tracef discards trace output (tracing is off).
func (l *natsLogger) Tracef(string, ...any) {}
