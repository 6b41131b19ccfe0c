package launcher

import (
	"fmt"
	"io"
	"path/filepath"

	"meshwork.dev/platform/localserver"
)

// startCluster starts the three NATS nodes of InfraOptions.HA, all logging to w.
func (inf *Infra) startCluster(opts InfraOptions, w io.Writer) error {
	var ports []int
	if p := opts.Ports.NATS; p != 0 {
		for i := range localserver.DefaultClusterSize {
			ports = append(ports, p+i)
		}
	}
	c, err := localserver.StartNATSCluster(localserver.NATSClusterOptions{Dir: filepath.Join(opts.Dir, "nats-ha"),
		ClientPorts: ports, Node: localserver.NATSOptions{Auth: opts.NATSAuth, SyncAlways: true, MQTTPort: opts.Ports.MQTT, Log: w}})
	if err != nil {
		return fmt.Errorf("NATS cluster: %w", err)
	}
	inf.ha, inf.nats = c, c.Nodes()[0]
	return nil
}

// NATSCluster is the running cluster under InfraOptions.HA, nil otherwise: tests stop nodes
// through it.
func (inf *Infra) NATSCluster() *localserver.NATSCluster { return inf.ha }
