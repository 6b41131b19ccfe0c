package localserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterOptions make a nats-server one node of a cluster joined by routes.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every node; "" means "meshwork".
	Name string
	// Port is this node's route port; it must be fixed (the other nodes' Routes name it).
	Port int
	// Routes are the other nodes' route URLs, nats-route://host:port (this node's own may be
	// in the list too: the server skips it).
	Routes []string
}

// DefaultClusterSize is the node count of StartNATSCluster and `meshctl up --ha`: the
// smallest cluster in which an R3 stream survives the loss of one node.
const DefaultClusterSize = 3

func (c *ClusterOptions) apply(so *server.Options, host string) error {
	if c.Port <= 0 {
		return errors.New("cluster: Port must be a fixed port, got " + strconv.Itoa(c.Port))
	}
	name := c.Name
	if name == "" {
		name = "meshwork"
	}
	so.Cluster.Name = name
	so.Cluster.Host = host
	so.Cluster.Port = c.Port
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("cluster: route %q is not nats-route://host:port", r)
		}
		so.Routes = append(so.Routes, u)
	}
	return nil
}

// RouteURL is the route URL of a node listening on host:port.
func RouteURL(host string, port int) string {
	return "nats-route://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// NATSClusterOptions configures StartNATSCluster.
type NATSClusterOptions struct {
	// Dir holds one JetStream store per node, Dir/node-1 … Dir/node-N.
	Dir string
	// Size is the node count; 0 means DefaultClusterSize.
	Size int
	// ClientPorts are the nodes' client ports, in node order; nil (or a 0) picks free ones.
	ClientPorts []int
	// Node is the template of every node's options: Auth, Users, Log, SyncAlways and
	// MQTTPort (MQTT runs on the first node only). Dir, ports, ServerName and Cluster are
	// set per node.
	Node NATSOptions
}

// NATSCluster is a cluster of in-process nats-servers joined by routes on loopback, each with
// JetStream on its own store. Tests run it (testinfra.StartNATSCluster); `meshctl up --ha`
// runs the same nodes as processes of their own (launcher.RunNATSNode).
type NATSCluster struct {
	nodes []*NATS
	opts  []NATSOptions
}

// StartNATSCluster starts the nodes and returns once every node is healthy: routed to the
// others and agreed on a JetStream meta leader.
func StartNATSCluster(opts NATSClusterOptions) (*NATSCluster, error) {
	const op = "localserver.StartNATSCluster"
	if opts.Dir == "" {
		return nil, fmt.Errorf("%s: Dir is required", op)
	}
	size := opts.Size
	if size == 0 {
		size = DefaultClusterSize
	}
	if size < 1 {
		return nil, fmt.Errorf("%s: Size must be positive, got %d", op, size)
	}
	if opts.ClientPorts != nil && len(opts.ClientPorts) != size {
		return nil, fmt.Errorf("%s: %d ClientPorts for %d nodes", op, len(opts.ClientPorts), size)
	}
	routePorts := make([]int, size)
	routes := make([]string, size)
	for i := range routePorts {
		p, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		routePorts[i], routes[i] = p, RouteURL("127.0.0.1", p)
	}
	c := &NATSCluster{}
	for i := range size {
		o := opts.Node
		o.Dir = filepath.Join(opts.Dir, "node-"+strconv.Itoa(i+1))
		o.Host, o.Port, o.MonitorPort = "127.0.0.1", 0, -1
		if opts.ClientPorts != nil {
			o.Port = opts.ClientPorts[i]
		}
		if i > 0 {
			o.MQTTPort = -1
		}
		o.ServerName = "node-" + strconv.Itoa(i+1)
		o.Cluster = &ClusterOptions{Port: routePorts[i], Routes: routes}
		c.opts = append(c.opts, o)
	}
	// The nodes start one after another: StartNATS returns when a node accepts clients,
	// which it does before its routes are up.
	for i := range c.opts {
		n, err := StartNATS(c.opts[i])
		if err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("%s: node %d: %w", op, i+1, err)
		}
		c.nodes = append(c.nodes, n)
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		c.Shutdown()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return c, nil
}

// WaitHealthy waits until every running node reports healthy (/healthz: JetStream current,
// a meta leader known) and the meta leader can place streams on every one of them, or d
// passes.
func (c *NATSCluster) WaitHealthy(d time.Duration) error {
	deadline := time.Now().Add(d)
	for i, n := range c.nodes {
		if n == nil {
			continue
		}
		for {
			h := n.srv.Healthz(nil)
			if h.Status == "ok" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %d not healthy after %s: %s", i+1, d, h.Error)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A node is healthy before the meta leader has had its first statsz; until then the
	// leader counts it offline and refuses to place a replica on it ("no suitable peers for
	// placement, peer offline"), which a loaded machine makes last long enough to hit.
	for {
		running, placeable := 0, 0
		for _, n := range c.nodes {
			if n == nil {
				continue
			}
			running++
			if n.srv.JetStreamIsLeader() {
				placeable = len(n.srv.JetStreamClusterPeers())
			}
		}
		if placeable == running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the meta leader can place streams on %d of %d nodes after %s", placeable, running, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Nodes are the running nodes, in order; a stopped node is nil.
func (c *NATSCluster) Nodes() []*NATS { return c.nodes }

// URLs are the running nodes' client URLs, in node order.
func (c *NATSCluster) URLs() []string {
	var out []string
	for _, n := range c.nodes {
		if n != nil {
			out = append(out, n.URL())
		}
	}
	return out
}

// URL is every running node's client URL, comma-separated, as NATS_URL takes them.
func (c *NATSCluster) URL() string { return strings.Join(c.URLs(), ",") }

// StopNode shuts node i (0-based) down, as a crash of that node would look to the others.
func (c *NATSCluster) StopNode(i int) {
	if c.nodes[i] != nil {
		c.nodes[i].Shutdown()
		c.nodes[i] = nil
	}
}

// RestartNode starts node i again on its store and route port (its client port is new).
func (c *NATSCluster) RestartNode(i int) error {
	if c.nodes[i] != nil {
		return fmt.Errorf("localserver: node %d is running", i+1)
	}
	n, err := StartNATS(c.opts[i])
	if err != nil {
		return err
	}
	c.nodes[i] = n
	return nil
}

// Shutdown stops every node. It is safe to call more than once.
func (c *NATSCluster) Shutdown() {
	for i := range c.nodes {
		c.StopNode(i)
	}
}
