package launcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Service is one process of the mesh: a service with gRPC and HTTP ports, or a simulator.
type Service struct {
	// Name names the process, its binary in the bin directory, its log prefix and its
	// OTEL_SERVICE_NAME.
	Name string
	// GRPCPort and HTTPPort are its listen ports on 127.0.0.1; both are 0 for a simulator,
	// which has no readiness endpoint and counts as up once started.
	GRPCPort, HTTPPort int
	// Postgres names its own database ("" for none); it gets DATABASE_URL.
	Postgres string
	// Redis, when set, gives it REDIS_URL for database RedisDB.
	Redis   bool
	RedisDB int
	// Mongo names its MongoDB (FerretDB) database ("" for none); it gets MONGODB_URI.
	Mongo string
	// Simulator marks a data generator that NoSim leaves out.
	Simulator bool
	// Secrets names environment variables holding secrets the launcher generates for this
	// service on first start (base64 of 32 random bytes each, kept in <Dir>/secrets.json) and
	// passes to it alone, e.g. KEY_ENCRYPTION_KEY.
	Secrets []string
	// Account gives the process a service account named after it when identity runs in the
	// mesh: SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET, kept in <Dir>/service-accounts.json.
	Account bool
	// Consumes are the products the service reads, granted to it at the mesh's first start
	// (the catalog's ACCESS_SEED; a grant revoked later stays revoked). "+pii" after an id
	// asks for the fields marked PII too.
	Consumes []string
	// Demo is environment (NAME=value) the process gets only when the simulators run: the
	// settings that make the demo data useful, such as the planning data of the demo crew.
	Demo []string
}

// Catalog is the name of the service that starts first and always runs.
const Catalog = "catalog"

// Identity is the service whose address and key set every other service is given. When it
// runs, the launcher bootstraps the first admin and the service accounts with its binary.
const Identity = "identity"

// Services returns the mesh's table of processes, in start order: the catalog, the five domain
// services, then the simulators. Every one of them gets NATS_URL.
func Services() []Service {
	return []Service{
		// PII_HASH_KEY keys the hashes that stand for PII in redacted views.
		{Name: Catalog, GRPCPort: 7000, HTTPPort: 8000, Postgres: "catalog", Secrets: []string{"PII_HASH_KEY"}},
		{Name: Identity, GRPCPort: 7001, HTTPPort: 8001, Postgres: "identity", Redis: true, RedisDB: 1,
			Secrets: []string{"KEY_ENCRYPTION_KEY"}},
		{Name: "files", GRPCPort: 7002, HTTPPort: 8002, Mongo: "files", Account: true,
			Secrets: []string{"KEY_ENCRYPTION_KEY"}},
		{Name: "quality", GRPCPort: 7003, HTTPPort: 8003, Postgres: "quality", Account: true},
		{Name: "logistics", GRPCPort: 7004, HTTPPort: 8004, Postgres: "logistics", Redis: true, RedisDB: 2, Account: true},
		{Name: "scheduling", GRPCPort: 7005, HTTPPort: 8005, Postgres: "scheduling", Account: true,
			// Engineers are users (their names plan the jobs); health and faults drive the jobs,
			// learned travel times the routes.
			Consumes: []string{"identity.users.v1+pii", "quality.machine-health.v1", "quality.sensor-faults.v1",
				"logistics.cell-travel-times.v1"},
			// The demo crew (DemoCrewFile) can do every job, from the city centre, all day.
			Demo: []string{"NEW_ENGINEER_SKILLS=mechanical,thermal,hydraulic,electrical,general,sensors",
				"NEW_ENGINEER_HOME=52.37,4.90", "NEW_ENGINEER_SHIFT=00:00-24:00"}},
		{Name: "quality-sim", Simulator: true, Account: true},
		{Name: "fleet-sim", Simulator: true, Account: true},
	}
}

// ServiceFile is where a domain added after the five (`meshctl new domain`) declares itself to
// the launcher: domains/<name>/service.json.
const ServiceFile = "service.json"

// serviceFile is the JSON of a ServiceFile.
type serviceFile struct {
	Name     string   `json:"name"`
	GRPCPort int      `json:"grpc_port"`
	HTTPPort int      `json:"http_port"`
	Postgres string   `json:"postgres"`
	Redis    bool     `json:"redis"`
	RedisDB  int      `json:"redis_db"`
	Account  bool     `json:"account"`
	Consumes []string `json:"consumes"`
}

// ServicesIn returns Services() with the domains that root/domains/*/service.json declare,
// after the five and before the simulators, in name order. A file that does not parse, names
// another directory, or takes a port or name already taken is an error naming the file.
func ServicesIn(root string) ([]Service, error) {
	table := Services()
	paths, err := filepath.Glob(filepath.Join(root, "domains", "*", ServiceFile))
	if err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	slices.Sort(paths)
	var added []Service
	for _, p := range paths {
		s, err := readServiceFile(p)
		if err != nil {
			return nil, fmt.Errorf("launcher: %s: %w", p, err)
		}
		if filepath.Base(filepath.Dir(p)) != s.Name {
			return nil, fmt.Errorf("launcher: %s: name %q is not its directory's", p, s.Name)
		}
		for _, t := range append(slices.Clone(table), added...) {
			switch {
			case t.Name == s.Name:
				return nil, fmt.Errorf("launcher: %s: %s is in the mesh already", p, s.Name)
			case t.GRPCPort != 0 && (slices.Contains([]int{t.GRPCPort, t.HTTPPort}, s.GRPCPort) || slices.Contains([]int{t.GRPCPort, t.HTTPPort}, s.HTTPPort)):
				return nil, fmt.Errorf("launcher: %s: its ports %d/%d collide with %s's", p, s.GRPCPort, s.HTTPPort, t.Name)
			}
		}
		added = append(added, s)
	}
	i := slices.IndexFunc(table, func(s Service) bool { return s.Simulator })
	if i < 0 {
		i = len(table)
	}
	return slices.Concat(table[:i], added, table[i:]), nil
}

func readServiceFile(path string) (Service, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Service{}, err
	}
	var f serviceFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Service{}, err
	}
	var problems []string
	if f.Name == "" {
		problems = append(problems, "name is required")
	}
	for _, port := range []struct {
		name string
		n    int
	}{{"grpc_port", f.GRPCPort}, {"http_port", f.HTTPPort}} {
		if port.n < 1024 || port.n > 65535 {
			problems = append(problems, fmt.Sprintf("%s %d is not a port from 1024 to 65535", port.name, port.n))
		}
	}
	if f.GRPCPort == f.HTTPPort {
		problems = append(problems, "grpc_port and http_port are the same")
	}
	if len(problems) > 0 {
		return Service{}, errors.New(strings.Join(problems, "; "))
	}
	return Service{Name: f.Name, GRPCPort: f.GRPCPort, HTTPPort: f.HTTPPort, Postgres: f.Postgres,
		Redis: f.Redis, RedisDB: f.RedisDB, Account: f.Account, Consumes: f.Consumes}, nil
}

// Databases returns the Postgres databases the services of table own, in table order: the
// launcher creates all of them, whether or not a service's binary is built yet.
func Databases(table []Service) []string {
	var dbs []string
	for _, s := range table {
		if s.Postgres != "" && !slices.Contains(dbs, s.Postgres) {
			dbs = append(dbs, s.Postgres)
		}
	}
	return dbs
}

// ReplicaPortStep is how far apart the ports of a service's replicas are (`meshctl up
// --replicas N`): replica r listens on the table's gRPC and HTTP ports plus
// ReplicaPortStep·(r−1), so quality's second replica is on 7013 and 8013, its third on 7023
// and 8023. The step stays below --port-offset's 100, which a second mesh beside the first uses.
const ReplicaPortStep = 10

// MaxReplicas is the most replicas of a service `meshctl up --replicas` runs.
const MaxReplicas = 3

// replica returns s as replica r (from 1) runs it: on its ports shifted by ReplicaPortStep.
func (s Service) replica(r int) Service {
	if s.GRPCPort != 0 {
		s.GRPCPort += ReplicaPortStep * (r - 1)
		s.HTTPPort += ReplicaPortStep * (r - 1)
	}
	return s
}

// replicaName is the process name of replica r of the service name: name itself for the
// first, "<name>-<r>" for the others.
func replicaName(name string, r int) string {
	if r == 1 {
		return name
	}
	return name + "-" + strconv.Itoa(r)
}

// replicated reports whether s runs Options.Replicas times: every service but the catalog
// (which answers NATS's auth callout) and the simulators.
func (s Service) replicated() bool { return s.GRPCPort != 0 && s.Name != Catalog && !s.Simulator }

// GRPCAddr is the service's gRPC address, 127.0.0.1:port, or "" for a simulator.
func (s Service) GRPCAddr() string { return hostPort(s.GRPCPort) }

// HTTPAddr is the service's HTTP address, 127.0.0.1:port, or "" for a simulator.
func (s Service) HTTPAddr() string { return hostPort(s.HTTPPort) }

func hostPort(port int) string {
	if port == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// plan is the processes Run starts, in start order, and the notes on what it leaves out.
type plan struct {
	catalog  Service
	services []Service // the other services, started together once the catalog is ready
	sims     []Service
	skipped  []string // one note per table entry left out for a missing binary
}

// selectServices decides what to start from the table, the flags and the binaries present.
func selectServices(table []Service, binDir string, noSim bool, only []string) (plan, error) {
	const op = "launcher: services"
	var p plan
	byName := map[string]Service{}
	for _, s := range table {
		byName[s.Name] = s
	}
	for _, name := range only {
		if _, ok := byName[name]; !ok {
			return p, fmt.Errorf("%s: --only %s: no such service (known: %s)", op, name, strings.Join(names(table), ", "))
		}
	}
	cat, ok := byName[Catalog]
	if !ok {
		return p, fmt.Errorf("%s: the table has no %s", op, Catalog)
	}
	if err := binaryExists(binDir, Catalog); err != nil {
		return p, fmt.Errorf("%s: %w", op, err)
	}
	p.catalog = cat
	for _, s := range table {
		if s.Name == Catalog || (s.Simulator && noSim) || (len(only) > 0 && !slices.Contains(only, s.Name)) {
			continue
		}
		if err := binaryExists(binDir, s.Name); err != nil {
			if len(only) > 0 || !errors.Is(err, fs.ErrNotExist) {
				return p, fmt.Errorf("%s: %w", op, err)
			}
			p.skipped = append(p.skipped, s.Name)
			continue
		}
		if s.Simulator {
			p.sims = append(p.sims, s)
		} else {
			p.services = append(p.services, s)
		}
	}
	return p, nil
}

// identity splits the planned services into identity (when planned; a slice of at most one)
// and the others.
func (p plan) identity() (id, others []Service) {
	for _, s := range p.services {
		if s.Name == Identity {
			id = append(id, s)
		} else {
			others = append(others, s)
		}
	}
	return id, others
}

// all returns every planned process in start order.
func (p plan) all() []Service {
	return append(append([]Service{p.catalog}, p.services...), p.sims...)
}

func names(table []Service) []string {
	out := make([]string, len(table))
	for i, s := range table {
		out[i] = s.Name
	}
	return out
}

// binaryExists checks that binDir/name is an executable file.
func binaryExists(binDir, name string) error {
	path := filepath.Join(binDir, name)
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s not found (`make run` builds the binaries): %w", path, fs.ErrNotExist)
		}
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// childEnv returns the whole environment of s's process: the architecture's configuration
// variables, from the infrastructure's endpoints and the table, the parent's PATH and HOME, and
// own: NAME=value pairs for s alone (its secrets and service account).
func childEnv(s Service, table []Service, ep Endpoints, getenv func(string) string, own ...string) []string {
	env := []string{
		"NATS_URL=" + ep.NATS,
		"OTEL_SERVICE_NAME=" + s.Name,
		// Below the launcher's 8 s kill deadline, so services drain before they are killed.
		"SHUTDOWN_TIMEOUT=6s",
	}
	if ep.NATSReplicas > 1 {
		// Under HA every product stream the process provisions is replicated on the nodes.
		env = append(env, "NATS_REPLICAS="+strconv.Itoa(ep.NATSReplicas))
	}
	if s.GRPCPort != 0 {
		env = append(env, "GRPC_ADDR="+s.GRPCAddr(), "HTTP_ADDR="+s.HTTPAddr())
	}
	for _, t := range table {
		// Every process learns every domain's gRPC address (<NAME>_ADDR): services call each
		// other (scheduling → logistics, files) and simulators feed the domains' APIs.
		if t.GRPCPort != 0 && t.Name != Catalog && t.Name != Identity {
			env = append(env, strings.ToUpper(strings.ReplaceAll(t.Name, "-", "_"))+"_ADDR="+t.GRPCAddr())
		}
		switch t.Name {
		case Catalog:
			env = append(env, "CATALOG_ADDR="+t.GRPCAddr())
		case Identity:
			env = append(env, "IDENTITY_ADDR="+t.GRPCAddr(),
				"JWKS_URL=http://"+t.HTTPAddr()+"/.well-known/jwks.json")
		}
	}
	if s.Postgres != "" {
		env = append(env, "DATABASE_URL="+ep.PostgresURL(s.Postgres))
	}
	if s.Redis {
		env = append(env, "REDIS_URL="+ep.RedisURL(s.RedisDB))
	}
	if s.Mongo != "" {
		env = append(env, "MONGODB_URI="+ep.MongoURI(s.Mongo))
	}
	for _, k := range []string{"PATH", "HOME"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, own...)
	slices.Sort(env)
	return env
}
