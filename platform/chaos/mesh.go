package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"meshwork.dev/platform/launcher"
)

// Topology is what `meshctl up` was asked for, after asking it what it supports.
type Topology struct {
	// HA is true when NATS runs as a three-node cluster (--ha).
	HA bool
	// Replicas is how many processes each domain runs (--replicas N; 1 without the flag).
	Replicas int
	// Why says what was wanted and not supported, for the table's header.
	Why []string
}

// DetectTopology asks `meshctl up --help` which of --ha and --replicas exist and returns the
// most of what is wanted that they allow: the cluster when ha, replicas processes per domain.
func DetectTopology(ctx context.Context, meshctl string, ha bool, replicas int) Topology {
	out, _ := exec.CommandContext(ctx, meshctl, "up", "--help").CombinedOutput()
	help := string(out)
	t := Topology{Replicas: 1}
	switch {
	case !ha:
	case strings.Contains(help, "-ha"):
		t.HA = true
	default:
		t.Why = append(t.Why, "single NATS node: this meshctl up has no --ha")
	}
	switch {
	case replicas <= 1:
	case strings.Contains(help, "-replicas"):
		t.Replicas = replicas
	default:
		t.Why = append(t.Why, fmt.Sprintf("1 replica per domain, not %d: this meshctl up has no --replicas", replicas))
	}
	return t
}

// args are the flags of meshctl up for t.
func (t Topology) args() []string {
	var a []string
	if t.HA {
		a = append(a, "--ha")
	}
	if t.Replicas > 1 {
		a = append(a, "--replicas", fmt.Sprint(t.Replicas))
	}
	return a
}

// Mesh is one `meshctl up` run in a temporary directory.
type Mesh struct {
	Bin      string // the binaries' directory
	Root     string // the temporary directory, removed by Stop
	Dir      string // the mesh's data directory, Root/.mesh
	Offset   int    // the port offset
	Topology Topology
	// Endpoints are what the launcher wrote to endpoints.json once the mesh was ready.
	Endpoints launcher.Endpoints

	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan error
}

// basePorts are the mesh's default ports (architecture §5 and the launcher's infrastructure),
// the second and third NATS nodes under --ha, and 7006/8006, the ports a domain scaffolded by
// meshctl gets (the e2e tests run one).
var basePorts = []int{4222, 4223, 4224, 8222, 1883, 15432, 16379, 7000, 8000, 7001, 8001, 7002, 8002, 7003, 8003,
	7004, 8004, 7005, 8005, 7006, 8006}

// WorkspaceRoot is the checkout's top directory, where go.work is.
func WorkspaceRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	gowork := strings.TrimSpace(string(out))
	if err != nil || gowork == "" || gowork == "off" {
		return "", fmt.Errorf("chaos: go env GOWORK: %q, %v: run inside the workspace", out, err)
	}
	return filepath.Dir(gowork), nil
}

// BuildAll builds what `make build` builds (platform/cmd/... and every domains/*/cmd/...) from
// the checkout at root into bin.
func BuildAll(root, bin string) error {
	pkgs := []string{"./platform/cmd/..."}
	domains, _ := filepath.Glob(filepath.Join(root, "domains", "*", "cmd"))
	for _, d := range domains {
		rel, _ := filepath.Rel(root, d)
		pkgs = append(pkgs, "./"+rel+"/...")
	}
	build := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("chaos: go build: %v\n%s", err, out)
	}
	return nil
}

// FreeOffset finds a port offset (for meshctl up --port-offset) at which every mesh port is
// free now. The offsets keep every port below the kernel's ephemeral range (32768 and up),
// where other servers and outgoing connections take theirs, so a port found free stays free.
// The chaos runs and the e2e tests both take their offsets here.
func FreeOffset() (int, error) {
	for i := range 40 {
		offset := 1000 + (os.Getpid()+i*7)%48*100
		if 16379+offset < 32768 && allFree(offset) {
			return offset, nil
		}
	}
	return 0, fmt.Errorf("chaos: no port offset with every mesh port free")
}

func allFree(offset int) bool {
	for _, p := range basePorts {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+offset))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// StartMesh runs `meshctl up --no-sim` with topology t in a new temporary directory and
// waits for its `mesh ready` line (at most 3 minutes), then signs in as the mesh's admin.
func StartMesh(ctx context.Context, bin string, t Topology) (*Mesh, error) {
	root, err := os.MkdirTemp("", "meshchaos-")
	if err != nil {
		return nil, err
	}
	// As root, Postgres runs as the postgres user, which must enter the directory.
	if err := os.Chmod(root, 0o711); err != nil {
		return nil, err
	}
	m := &Mesh{Bin: bin, Root: root, Dir: filepath.Join(root, ".mesh"), Topology: t, out: &lockedBuffer{}, exited: make(chan error, 1)}
	if m.Offset, err = FreeOffset(); err != nil {
		return m, err
	}
	args := append([]string{"up", "--dir", m.Dir, "--bin", bin, "--no-sim", "--port-offset", fmt.Sprint(m.Offset)}, t.args()...)
	m.cmd = exec.Command(filepath.Join(bin, "meshctl"), args...)
	m.cmd.Dir = root // no domains/*/service.json: the five domains only
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	// The session lives in a directory of its own: meshctl makes its directory 0700, and the
	// postgres user must still enter Root to reach its data (pg_ctl restart).
	m.cmd.Env = append(os.Environ(), "CATALOG_ADDR=", "NATS_URL=", "MESHCTL_CREDENTIALS="+filepath.Join(root, "client", "credentials.json"))
	if err := m.cmd.Start(); err != nil {
		return m, fmt.Errorf("chaos: start meshctl up: %w", err)
	}
	go func() { m.exited <- m.cmd.Wait() }()
	deadline := time.After(3 * time.Minute)
	for !strings.Contains("\n"+m.out.String(), "\nmesh ready") {
		select {
		case err := <-m.exited:
			m.exited <- err
			return m, fmt.Errorf("chaos: meshctl up exited before mesh ready: %v\n%s", err, m.Output())
		case <-deadline:
			return m, fmt.Errorf("chaos: no mesh ready line within 3 minutes:\n%s", m.Output())
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	b, err := os.ReadFile(filepath.Join(m.Dir, launcher.EndpointsFile))
	if err != nil {
		return m, fmt.Errorf("chaos: %w", err)
	}
	if err := json.Unmarshal(b, &m.Endpoints); err != nil {
		return m, fmt.Errorf("chaos: %s: %w", launcher.EndpointsFile, err)
	}
	if out, err := m.Meshctl(ctx, "login", "--dev", "--mesh-dir", m.Dir); err != nil {
		return m, fmt.Errorf("chaos: meshctl login --dev: %v\n%s", err, out)
	}
	return m, nil
}

// PID is meshctl up's process id: the launcher, parent of every mesh process.
func (m *Mesh) PID() int { return m.cmd.Process.Pid }

// Output is what meshctl up printed so far.
func (m *Mesh) Output() string { return m.out.String() }

// Addr is a service's gRPC address on this mesh's offset (7000 + n).
func (m *Mesh) Addr(n int) string { return fmt.Sprintf("127.0.0.1:%d", 7000+n+m.Offset) }

// Meshctl runs the meshctl client against this mesh and returns its standard output.
func (m *Mesh) Meshctl(ctx context.Context, args ...string) (string, error) {
	global := []string{"--catalog", m.Addr(0), "--nats", m.Endpoints.NATS, "--identity", m.Addr(1)}
	cmd := exec.CommandContext(ctx, filepath.Join(m.Bin, "meshctl"), append(global, args...)...)
	cmd.Env = append(os.Environ(), "MESHCTL_CREDENTIALS="+filepath.Join(m.Root, "client", "credentials.json"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// Token is the signed-in admin's current access token (meshctl token renews it).
func (m *Mesh) Token(ctx context.Context) (string, error) {
	out, err := m.Meshctl(ctx, "token")
	if err != nil {
		return "", fmt.Errorf("chaos: meshctl token: %v: %s", err, out)
	}
	return strings.TrimSpace(out), nil
}

// PostgresPassword is the launcher's Postgres superuser password, from the mesh's own
// secrets.json.
func (m *Mesh) PostgresPassword() (string, error) {
	b, err := os.ReadFile(filepath.Join(m.Dir, launcher.SecretsFile))
	if err != nil {
		return "", fmt.Errorf("chaos: %w", err)
	}
	var all map[string]map[string]string
	if err := json.Unmarshal(b, &all); err != nil {
		return "", fmt.Errorf("chaos: %s: %w", launcher.SecretsFile, err)
	}
	return all["stores"]["postgres_password"], nil
}

// Stop sends SIGINT, as Ctrl-C does, and waits up to 30 s before killing meshctl up. A
// Postgres that pg_ctl restarted is no child of the launcher, so Stop stops it too, then
// removes the temporary directory unless keep.
func (m *Mesh) Stop(keep bool) error {
	var err error
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(syscall.SIGINT)
		select {
		case e := <-m.exited:
			if e != nil {
				err = fmt.Errorf("chaos: meshctl up after SIGINT: %v", e)
			}
		case <-time.After(30 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.exited
			err = fmt.Errorf("chaos: meshctl up still running 30 s after SIGINT")
		}
	}
	if d := m.Endpoints.PostgresData; d != "" {
		if _, statErr := os.Stat(filepath.Join(d, "postmaster.pid")); statErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			_, _ = pgCtl(ctx, d, "stop", "-m", "fast", "-w")
			cancel()
		}
	}
	if !keep {
		_ = os.RemoveAll(m.Root)
	}
	return err
}

// lockedBuffer is an io.Writer that child processes write to while the run reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
