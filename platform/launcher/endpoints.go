package launcher

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Endpoints are the URLs of a running mesh. Run writes them to <dir>/endpoints.json (the JSON
// names are the field tags) once the infrastructure is up, and again with the services once
// they are ready.
type Endpoints struct {
	// NATS is the client URL, nats://127.0.0.1:4222.
	NATS string `json:"nats"`
	// NATSReplicas is the replica count of product streams the deployment supports (the
	// services' NATS_REPLICAS): 1 on the single server, 3 under HA, where NATS lists every node.
	NATSReplicas int `json:"nats_replicas"`
	// NATSMonitor is the monitoring base URL, http://127.0.0.1:8222.
	NATSMonitor string `json:"nats_monitor"`
	// MQTT is NATS's MQTT listener, mqtt://127.0.0.1:1883.
	MQTT string `json:"mqtt"`
	// MongoDB is FerretDB's connection string without a database: its Unix socket's path
	// escaped in the host, mongodb://%2Fsrc%2F.mesh%2Frun%2Fferretdb.sock/.
	MongoDB string `json:"mongodb"`
	// Postgres is the server's URL without a database or the password,
	// postgres://postgres@127.0.0.1:15432.
	Postgres string `json:"postgres"`
	// PostgresPassword is the superuser's password, kept in secrets.json and never written here.
	PostgresPassword string `json:"-"`
	// Databases maps each owner's database to its URL without the password.
	Databases map[string]string `json:"databases"`
	// PostgresData is the cluster's data directory (see the package doc for when it is not
	// under Dir).
	PostgresData string `json:"postgres_data"`
	// Redis is the server's URL without a database number or the password, redis://127.0.0.1:16379.
	Redis string `json:"redis"`
	// RedisPassword is the default user's password, kept in secrets.json and never written here.
	RedisPassword string `json:"-"`
	// Logs is the directory of the infrastructure's logs.
	Logs string `json:"logs"`
	// Services maps each started service to its addresses (simulators are left out); with
	// Options.Replicas above 1 they are the first replica's.
	Services map[string]ServiceEndpoints `json:"services,omitempty"`
	// Processes are the mesh's processes in start order, each with its current pid: the file
	// is rewritten whenever one starts again. Servers inside the launcher's own process (the
	// single NATS server, FerretDB) are not processes and not listed.
	Processes []Process `json:"processes,omitempty"`
}

// Process is one process of a running mesh.
type Process struct {
	// Name is its name and log prefix: "nats-2", "quality", "quality-2", "postgres".
	Name string `json:"name"`
	// Kind is KindNATS, KindDomain or KindInfra.
	Kind string `json:"kind"`
	// Replica is its replica number, 1 … Options.Replicas for a service, 1 for every other.
	Replica int `json:"replica"`
	// PID is the process id of its current run.
	PID int `json:"pid"`
}

// The kinds of Process.
const (
	KindNATS   = "nats"   // a node of the --ha cluster (RunNATSNode)
	KindDomain = "domain" // a process of the table: the catalog, a domain service, a simulator
	KindInfra  = "infra"  // Postgres or Redis
)

// ServiceEndpoints are one service's addresses.
type ServiceEndpoints struct {
	GRPC string `json:"grpc"` // host:port, for grpcurl -plaintext
	HTTP string `json:"http"` // base URL of /readyz, /metrics and the service's extras
}

// PostgresURL is the URL of database db, as the superuser postgres with its password, without TLS.
func (e Endpoints) PostgresURL(db string) string {
	return withPassword(e.Postgres, "postgres", e.PostgresPassword) + "/" + db + "?sslmode=disable"
}

// RedisURL is the URL of Redis database number db, with the password.
func (e Endpoints) RedisURL(db int) string {
	return withPassword(e.Redis, "", e.RedisPassword) + "/" + strconv.Itoa(db)
}

// withPassword puts user:password into base, a URL with no path; an empty password leaves it.
func withPassword(base, user, password string) string {
	u, err := url.Parse(base)
	if password == "" || err != nil {
		return base
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// MongoURI is the connection string naming database db.
func (e Endpoints) MongoURI(db string) string {
	return strings.TrimSuffix(e.MongoDB, "/") + "/" + db
}

// withServices returns a copy of e listing the services' addresses.
func (e Endpoints) withServices(svcs []Service) Endpoints {
	e.Services = map[string]ServiceEndpoints{}
	for _, s := range svcs {
		if s.HTTPPort != 0 {
			e.Services[s.Name] = ServiceEndpoints{GRPC: s.GRPCAddr(), HTTP: "http://" + s.HTTPAddr()}
		}
	}
	return e
}

// endpointsFile keeps dir/endpoints.json up to date: the endpoints Run last gave it and every
// process's current pid.
type endpointsFile struct {
	dir string
	mu  sync.Mutex
	ep  Endpoints
}

// write replaces the endpoints, keeping the processes, and rewrites the file.
func (f *endpointsFile) write(ep Endpoints) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ep.Processes = f.ep.Processes
	f.ep = ep
	return writeEndpoints(f.dir, f.ep)
}

// started records p's run, replacing an earlier run of the same name, and rewrites the file.
func (f *endpointsFile) started(p Process) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.ep.Processes, func(q Process) bool { return q.Name == p.Name })
	if i < 0 {
		f.ep.Processes = append(f.ep.Processes, p)
	} else {
		f.ep.Processes[i] = p
	}
	return writeEndpoints(f.dir, f.ep)
}

// EndpointsFile is the name of the endpoints file in the launcher's directory.
const EndpointsFile = "endpoints.json"

// writeEndpoints writes e to dir/endpoints.json, replacing it atomically.
func writeEndpoints(dir string, e Endpoints) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("launcher: endpoints: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".endpoints-*")
	if err != nil {
		return fmt.Errorf("launcher: endpoints: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("launcher: endpoints: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("launcher: endpoints: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("launcher: endpoints: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, EndpointsFile)); err != nil {
		return fmt.Errorf("launcher: endpoints: %w", err)
	}
	return nil
}
