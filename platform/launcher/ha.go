package launcher

import (
	"fmt"
	"os"
	"strings"

	"meshwork.dev/platform/localserver"
)

// planCluster returns the nodes of Options.HA: node N (1 … localserver.DefaultClusterSize) on
// client port Ports.NATS+N−1, monitoring Ports.NATSMonitor+N−1 and routes Ports.NATSCluster+N−1,
// MQTT on node 1 only (Ports.MQTT). A zero port is picked free once here, so a restarted node
// comes back on the ports the others and the services know.
func planCluster(dir string, p Ports) ([]natsNode, error) {
	const op = "launcher: NATS cluster"
	port := func(base, i int) (int, error) {
		if base != 0 {
			return base + i, nil
		}
		return localserver.FreePort()
	}
	nodes := make([]natsNode, localserver.DefaultClusterSize)
	var routes []string
	for i := range nodes {
		n := natsNode{index: i + 1, dir: dir, mqttPort: -1}
		var err error
		for _, f := range []struct {
			dst  *int
			base int
		}{{&n.port, p.NATS}, {&n.monitorPort, p.NATSMonitor}, {&n.clusterPort, p.NATSCluster}} {
			if *f.dst, err = port(f.base, i); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
		}
		if i == 0 {
			if n.mqttPort, err = port(p.MQTT, 0); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
		}
		routes = append(routes, localserver.RouteURL("127.0.0.1", n.clusterPort))
		nodes[i] = n
	}
	for i := range nodes {
		nodes[i].routes = routes
	}
	return nodes, nil
}

// clusterPorts are the ports planCluster will use, named for the port-in-use message.
func clusterPorts(p Ports) []namedPort {
	var out []namedPort
	for i := range localserver.DefaultClusterSize {
		shift := func(base int) int {
			if base == 0 {
				return 0
			}
			return base + i
		}
		name := fmt.Sprintf("NATS node %d", i+1)
		out = append(out, namedPort{shift(p.NATS), name}, namedPort{shift(p.NATSMonitor), name + " monitoring"},
			namedPort{shift(p.NATSCluster), name + " routes"})
	}
	return append(out, namedPort{p.MQTT, "NATS MQTT"})
}

// withCluster returns e with NATS being the nodes: NATS_URL naming every node, R3 streams,
// node 1's monitoring and MQTT.
func (e Endpoints) withCluster(nodes []natsNode) Endpoints {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	e.NATS, e.NATSReplicas = strings.Join(urls, ","), len(nodes)
	e.NATSMonitor = "http://" + hostPort(nodes[0].monitorPort)
	e.MQTT = "mqtt://" + hostPort(nodes[0].mqttPort)
	return e
}

// newNode is the child that runs node n: `<Options.NATSNode> nats-node --name nats-N …`, with
// no environment but PATH and HOME, ready once its /healthz answers 200 (JetStream current, a
// meta leader known).
func (s *supervisor) newNode(n natsNode) (*child, error) {
	path := s.opts.NATSNode
	if path == "" {
		var err error
		if path, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("launcher: the meshctl binary for the NATS nodes: %w", err)
		}
	}
	var env []string
	if s.opts.Getenv != nil {
		for _, k := range []string{"PATH", "HOME"} {
			if v := s.opts.Getenv(k); v != "" {
				env = append(env, k+"="+v)
			}
		}
	}
	return &child{svc: Service{Name: n.name()}, name: n.name(), kind: KindNATS, replica: 1, path: path, args: n.args(),
		env: env, ready: "http://" + hostPort(n.monitorPort) + "/healthz",
		where: fmt.Sprintf("%s (routes %d, monitoring %d)", n.url(), n.clusterPort, n.monitorPort), tail: newLineTail(20)}, nil
}
