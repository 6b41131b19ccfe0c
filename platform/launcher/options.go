package launcher

import (
	"io"
	"path/filepath"
	"time"
)

// Ports are the infrastructure's TCP ports on 127.0.0.1. A zero port lets the server pick a free
// one (tests do this); `meshctl up` uses DefaultPorts.
type Ports struct {
	NATS        int // client connections
	NATSMonitor int // HTTP monitoring
	MQTT        int // NATS's MQTT listener
	// NATSCluster is the route port of the first node under Options.HA; node N has
	// NATSCluster+N−1, as its client and monitoring ports are NATS+N−1 and NATSMonitor+N−1.
	NATSCluster int
	Postgres    int
	Redis       int
}

// DefaultPorts returns the ports of architecture §5, chosen so as not to collide with servers
// installed on the machine (Postgres 15432, Redis 16379), and the routes of the --ha cluster
// from NATS's conventional 6222. FerretDB has no port: it listens on a
// Unix socket (see the package doc).
func DefaultPorts() Ports {
	return Ports{NATS: 4222, NATSMonitor: 8222, MQTT: 1883, NATSCluster: 6222, Postgres: 15432, Redis: 16379}
}

// Options configures Run. The zero value runs the mesh of Services from ./bin with its data in
// ./.mesh, but on free infrastructure ports: set Ports to DefaultPorts() for the fixed ones.
type Options struct {
	// Dir holds the data and logs; "" means ".mesh". It is created if missing.
	Dir string
	// BinDir holds the services' binaries, each named after its service; "" means "bin".
	BinDir string
	// NoSim leaves the simulators out.
	NoSim bool
	// HA runs NATS as a three-node cluster, one supervised process per node (RunNATSNode), and
	// gives every process NATS_URL listing the three nodes and NATS_REPLICAS=3.
	HA bool
	// NATSNode is the binary whose NATSNodeCommand runs a node under HA; "" means this
	// process's own executable (meshctl).
	NATSNode string
	// Replicas is how many processes each domain service runs (the catalog and the
	// simulators run once), 1 … MaxReplicas; 0 means 1. See ReplicaPortStep for their ports.
	Replicas int
	// Only, when not empty, names the services and simulators to start (the catalog always
	// starts: every service registers its data products there). A name not in the table, or
	// whose binary is missing, is an error.
	Only []string
	// Ports are the infrastructure's ports.
	Ports Ports
	// Services is the table of processes; nil means Services().
	Services []Service
	// Stdout receives the children's prefixed lines and the launcher's own; nil discards them.
	Stdout io.Writer
	// ReadyTimeout bounds the wait for one service's /readyz; 0 means 2 minutes.
	ReadyTimeout time.Duration
	// StopTimeout is how long children get from the start of a stop before they are killed;
	// 0 means 8 s.
	StopTimeout time.Duration
	// MaxRestarts is how many times in a row a child that dies is restarted before the mesh is
	// stopped; 0 means 3, negative means never restart.
	MaxRestarts int
	// RestartBackoff is the wait before the first restart, doubling for each next one; 0 means 1 s.
	RestartBackoff time.Duration
	// Getenv reads the PATH and HOME passed on to the children; nil passes neither.
	Getenv func(string) string
	// PostgresFallback is where the Postgres data goes when the postgres user cannot reach Dir
	// (see the package doc); "" means /var/tmp.
	PostgresFallback string
}

// withDefaults returns o with every zero field that has a default filled in.
func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = ".mesh"
	}
	if o.BinDir == "" {
		o.BinDir = "bin"
	}
	if o.Services == nil {
		o.Services = Services()
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 2 * time.Minute
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 8 * time.Second
	}
	switch {
	case o.MaxRestarts == 0:
		o.MaxRestarts = 3
	case o.MaxRestarts < 0:
		o.MaxRestarts = 0
	}
	if o.RestartBackoff == 0 {
		o.RestartBackoff = time.Second
	}
	if o.PostgresFallback == "" {
		o.PostgresFallback = "/var/tmp"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	return o
}

// absDirs makes Dir and BinDir absolute, so that messages and children do not depend on the
// working directory.
func (o *Options) absDirs() error {
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return err
	}
	o.BinDir, err = filepath.Abs(o.BinDir)
	return err
}

// Offset returns p with n added to every fixed port, so a second mesh can run beside the
// first (`meshctl up --port-offset 100`). Zero ports stay zero (free).
func (p Ports) Offset(n int) Ports {
	shift := func(port int) int {
		if port <= 0 {
			return port
		}
		return port + n
	}
	return Ports{NATS: shift(p.NATS), NATSMonitor: shift(p.NATSMonitor), MQTT: shift(p.MQTT),
		NATSCluster: shift(p.NATSCluster), Postgres: shift(p.Postgres), Redis: shift(p.Redis)}
}

// OffsetServices returns a copy of table with n added to every service's gRPC and HTTP port.
func OffsetServices(table []Service, n int) []Service {
	out := make([]Service, len(table))
	for i, s := range table {
		if s.GRPCPort > 0 {
			s.GRPCPort += n
		}
		if s.HTTPPort > 0 {
			s.HTTPPort += n
		}
		out[i] = s
	}
	return out
}
