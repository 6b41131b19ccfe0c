package launcher

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunReplicas runs two replicas of quality (fakes) beside one catalog: each replica on its
// own ports, with its own REPLICA, both listed in endpoints.json with their pids, the services'
// endpoints being the first replica's.
func TestRunReplicas(t *testing.T) {
	t.Parallel()
	cat, quality := svc(t, "catalog"), svc(t, "quality")
	r := startRun(t, []Service{cat, quality}, Options{Replicas: 2})
	r.waitFor("\nmesh ready")
	second := quality.replica(2)
	out := r.out.String()
	for _, want := range []string{
		fmt.Sprintf("[mesh]      quality ready on %s (HTTP %s)\n", quality.GRPCAddr(), quality.HTTPAddr()),
		fmt.Sprintf("[mesh]      quality-2 ready on %s (HTTP %s)\n", second.GRPCAddr(), second.HTTPAddr()),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The replicas start together (the domains migrate and provision safely side by side):
	// the second is running before the first answers ready (the fake is unready twice), and
	// mesh ready waits for both.
	if a, b := strings.Index(out, "quality ready on"), strings.Index(out, "[quality-2] pid="); a < 0 || b < 0 || b > a {
		t.Errorf("quality-2 started after quality was ready (at %d, %d): want the replicas started together", b, a)
	}
	if a, m := strings.Index(out, "quality-2 ready on"), strings.Index(out, "mesh ready"); a < 0 || m < a {
		t.Errorf("mesh ready (at %d) before quality-2 was ready (at %d)", m, a)
	}
	if second.GRPCPort != quality.GRPCPort+ReplicaPortStep || second.HTTPPort != quality.HTTPPort+ReplicaPortStep {
		t.Errorf("replica 2 on %d/%d, want %d/%d", second.GRPCPort, second.HTTPPort, quality.GRPCPort+10, quality.HTTPPort+10)
	}
	env := regexp.MustCompile(`\[quality-2\] env: (.*)\n`).FindStringSubmatch(out)
	if env == nil || !strings.Contains(env[1], " REPLICA=2 ") || !strings.Contains(env[1], " GRPC_ADDR="+second.GRPCAddr()+" ") ||
		!strings.Contains(env[1], "OTEL_SERVICE_NAME=quality ") {
		t.Errorf("quality-2's environment %q: want REPLICA=2, its own GRPC_ADDR and quality's OTEL_SERVICE_NAME", env)
	}
	if env := regexp.MustCompile(`\[quality\] +env: (.*)\n`).FindStringSubmatch(out); env == nil || !strings.Contains(env[1], " REPLICA=1 ") ||
		!strings.Contains(env[1], " GRPC_ADDR="+quality.GRPCAddr()+" ") {
		t.Errorf("the first replica's environment %q: want REPLICA=1 and the table's GRPC_ADDR", env)
	}
	if env := regexp.MustCompile(`\[catalog\] +env: (.*)\n`).FindStringSubmatch(out); env == nil || strings.Contains(env[1], "REPLICA=") {
		t.Errorf("the catalog's environment %q: want no REPLICA, it runs once", env)
	}

	ep := readEndpoints(t, r.opts.Dir)
	one, ok1 := processNamed(ep, "quality")
	two, ok2 := processNamed(ep, "quality-2")
	if !ok1 || !ok2 || one.Replica != 1 || two.Replica != 2 || one.Kind != KindDomain || two.Kind != KindDomain ||
		one.PID == 0 || one.PID == two.PID {
		t.Errorf("endpoints.json processes %+v: want quality replicas 1 and 2, kind domain, distinct pids", ep.Processes)
	}
	for _, p := range ep.Processes {
		if p.Kind == KindNATS {
			t.Errorf("endpoints.json lists %+v: the single NATS server runs inside the launcher", p)
		}
	}
	if _, ok := processNamed(ep, "catalog-2"); ok {
		t.Errorf("the catalog runs twice: %+v", ep.Processes)
	}
	if got := ep.Services["quality"]; got.GRPC != quality.GRPCAddr() {
		t.Errorf("endpoints.json quality %+v, want the first replica's %s", got, quality.GRPCAddr())
	}
	for _, p := range []Process{one, two} {
		if m := regexp.MustCompile(fmt.Sprintf(`\] +pid=%d\n`, p.PID)).FindString(out); m == "" {
			t.Errorf("%s's pid %d in endpoints.json is not the one it printed", p.Name, p.PID)
		}
	}
}

// TestRunReplicasOutOfRange is a clear error before anything starts.
func TestRunReplicasOutOfRange(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, 4} {
		err := Run(context.Background(), Options{Dir: filepath.Join(t.TempDir(), ".mesh"), BinDir: linkFakes(t, "catalog"),
			Services: []Service{svc(t, "catalog")}, Replicas: n})
		want := fmt.Sprintf("launcher: %d replicas: want 1 to 3", n)
		if err == nil || err.Error() != want {
			t.Errorf("Run with %d replicas = %v, want %q", n, err, want)
		}
	}
}

// TestDistinctPorts catches a replica's port on another service's.
func TestDistinctPorts(t *testing.T) {
	t.Parallel()
	err := distinctPorts([]namedPort{{0, "free"}, {0, "free too"}, {7013, "quality-2 gRPC"}, {7013, "audit gRPC"}})
	if want := "launcher: port 7013 is wanted by both quality-2 gRPC and audit gRPC"; err == nil || err.Error() != want {
		t.Errorf("distinctPorts = %v, want %q", err, want)
	}
}
