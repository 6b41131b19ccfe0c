package launcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"meshwork.dev/platform/localserver"
)

// NATSNodeCommand is the hidden meshctl subcommand that runs one node of the --ha cluster
// (RunNATSNode). The launcher starts one process per node, `meshctl nats-node --name nats-N …`,
// so that a node can be killed and restarted on its own.
const NATSNodeCommand = "nats-node"

// natsNode is one node of the --ha cluster: what the launcher passes on the node's command line
// (args) and what RunNATSNode parses back (parseNATSNode).
type natsNode struct {
	index       int    // 1 … localserver.DefaultClusterSize
	dir         string // the mesh's directory: the store is dir/nats-ha/node-N, the keys dir/secrets.json
	port        int    // client port
	monitorPort int    // HTTP monitoring, whose /healthz the launcher polls
	mqttPort    int    // -1 for none: MQTT runs on node 1 only
	clusterPort int    // route port
	routes      []string
}

// name is the node's process name, "nats-N": its log prefix, its entry in endpoints.json and
// the `--name` a chaos tool finds it by.
func (n natsNode) name() string { return "nats-" + strconv.Itoa(n.index) }

// serverName is the nats-server's name, "node-N", as the in-process cluster named it: the
// store's JetStream peers are known by it, so it stays.
func (n natsNode) serverName() string { return "node-" + strconv.Itoa(n.index) }

// url is the node's client URL.
func (n natsNode) url() string { return "nats://" + hostPort(n.port) }

// args is the node's command line after the binary.
func (n natsNode) args() []string {
	return []string{NATSNodeCommand, "--name", n.name(), "--dir", n.dir, "--port", strconv.Itoa(n.port),
		"--monitor-port", strconv.Itoa(n.monitorPort), "--mqtt-port", strconv.Itoa(n.mqttPort),
		"--cluster-port", strconv.Itoa(n.clusterPort), "--routes", strings.Join(n.routes, ",")}
}

// parseNATSNode parses a node's command line (after NATSNodeCommand) and checks every value.
func parseNATSNode(args []string, stderr io.Writer) (natsNode, error) {
	fs := flag.NewFlagSet(NATSNodeCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var n natsNode
	name := fs.String("name", "", "the node, nats-1 … nats-3")
	fs.StringVar(&n.dir, "dir", "", "the mesh's directory (absolute): store in <dir>/nats-ha/node-N, keys in <dir>/secrets.json")
	fs.IntVar(&n.port, "port", 0, "client port")
	fs.IntVar(&n.monitorPort, "monitor-port", 0, "HTTP monitoring port")
	fs.IntVar(&n.mqttPort, "mqtt-port", -1, "MQTT port, -1 for none")
	fs.IntVar(&n.clusterPort, "cluster-port", 0, "route port")
	routes := fs.String("routes", "", "comma-separated route URLs of every node, nats-route://127.0.0.1:port")
	if err := fs.Parse(args); err != nil {
		return n, err
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	i, err := strconv.Atoi(strings.TrimPrefix(*name, "nats-"))
	if !strings.HasPrefix(*name, "nats-") || err != nil || i < 1 || i > localserver.DefaultClusterSize {
		problems = append(problems, fmt.Sprintf("--name %q: want nats-1 … nats-%d", *name, localserver.DefaultClusterSize))
	}
	n.index = i
	if !filepath.IsAbs(n.dir) {
		problems = append(problems, fmt.Sprintf("--dir %q: want an absolute directory", n.dir))
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"--port", n.port}, {"--monitor-port", n.monitorPort}, {"--cluster-port", n.clusterPort}} {
		if p.port < 1 || p.port > 65535 {
			problems = append(problems, fmt.Sprintf("%s %d: want a port from 1 to 65535", p.flag, p.port))
		}
	}
	if n.mqttPort != -1 && (n.mqttPort < 1 || n.mqttPort > 65535) {
		problems = append(problems, fmt.Sprintf("--mqtt-port %d: want a port from 1 to 65535, or -1", n.mqttPort))
	}
	for _, r := range strings.Split(*routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			n.routes = append(n.routes, r)
		}
	}
	if len(n.routes) == 0 {
		problems = append(problems, "--routes: want the route URLs of the nodes")
	}
	if len(problems) > 0 {
		return n, errors.New(strings.Join(problems, "; "))
	}
	return n, nil
}

// RunNATSNode is `meshctl nats-node`: it runs one node of the --ha cluster until ctx is
// cancelled (meshctl cancels it on SIGTERM and SIGINT), then shuts the server down, which
// flushes and closes its JetStream store. The node is what the in-process cluster's node was:
// JetStream on the file store dir/nats-ha/node-N with `sync_interval: always`, routes on
// loopback to the other nodes, the mesh's accounts, static users and auth callout with the keys
// of dir/secrets.json (so no secret is on its command line or in its environment), MQTT on the
// port given (node 1). The server's whole log goes to dir/logs/nats-N.log, like the other
// servers' logs; its warnings and errors and the node's own notes (ready, stopping, stopped)
// are JSON lines on stdout, like the mesh's services', which the launcher shows behind
// "[nats-N]".
func RunNATSNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	n, err := parseNATSNode(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", NATSNodeCommand, err)
	}
	keys, err := readNATSKeys(n.dir)
	if err != nil {
		return fmt.Errorf("%s: %w", NATSNodeCommand, err)
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", n.name())
	logDir := filepath.Join(n.dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", NATSNodeCommand, err)
	}
	f, err := os.OpenFile(filepath.Join(logDir, n.name()+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", NATSNodeCommand, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "--- meshctl %s %s ---\n", NATSNodeCommand, time.Now().Format(time.RFC3339))
	srv, err := localserver.StartNATS(localserver.NATSOptions{Dir: filepath.Join(n.dir, "nats-ha", "node-"+strconv.Itoa(n.index)),
		Host: "127.0.0.1", Port: n.port, MonitorPort: n.monitorPort, MQTTPort: n.mqttPort, ServerName: n.serverName(),
		Auth: &keys, Cluster: &localserver.ClusterOptions{Port: n.clusterPort, Routes: n.routes}, SyncAlways: true,
		Log: io.MultiWriter(f, &slogWriter{log: log, min: slog.LevelWarn})})
	if err != nil {
		return fmt.Errorf("%s %s: %w", NATSNodeCommand, n.name(), err)
	}
	log.Info("node ready", "server", n.serverName(), "url", srv.URL(), "monitor", srv.MonitorURL(), "mqtt", srv.MQTTAddr())
	<-ctx.Done()
	log.Info("stopping")
	srv.Shutdown()
	log.Info("stopped")
	return nil
}

// consoleQuiet are the warnings that every start (the static users' passwords are in the
// server's memory only) or every readiness poll before the cluster has formed brings: they stay
// in the log file.
var consoleQuiet = []string{"Plaintext passwords detected", "Healthcheck failed"}

// slogWriter turns nats-server's log lines ("[INF] text") of level min and above into slog
// records. localserver's logger writes one whole line per Write.
type slogWriter struct {
	log *slog.Logger
	min slog.Level
}

func (w *slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelInfo
	switch {
	case strings.HasPrefix(line, "[WRN] "):
		level = slog.LevelWarn
	case strings.HasPrefix(line, "[ERR] "), strings.HasPrefix(line, "[FTL] "):
		level = slog.LevelError
	}
	if len(line) >= 6 && line[0] == '[' && line[4] == ']' {
		line = line[6:]
	}
	if level >= w.min && !slices.ContainsFunc(consoleQuiet, func(q string) bool { return strings.HasPrefix(line, q) }) {
		w.log.Log(context.Background(), level, line)
	}
	return len(p), nil
}
