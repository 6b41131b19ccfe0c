package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshwork.dev/platform/testinfra"

	"meshwork.dev/platform/localserver"
)

// running is a Run in the background.
type running struct {
	t      *testing.T
	out    *testinfra.Output
	cancel context.CancelFunc
	done   chan error
	opts   Options
}

// startRun runs the launcher on free ports with the given table, fakes linked into its bin.
// A Dir or BinDir set in opts is used as it is.
func startRun(t *testing.T, table []Service, opts Options) *running {
	t.Helper()
	var fakeNames []string
	for _, s := range table {
		if _, ok := fakes[s.Name]; ok {
			fakeNames = append(fakeNames, s.Name)
		}
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(reachableDir(t), ".mesh")
	}
	if opts.BinDir == "" {
		opts.BinDir = linkFakes(t, fakeNames...)
	}
	opts.Services = table
	r := &running{t: t, out: &testinfra.Output{}, done: make(chan error, 1)}
	opts.Stdout = r.out
	r.opts = opts
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// startReady is startRun with the table built by table, then waiting for "mesh ready"; when
// Run returns first because a port picked free was taken meanwhile (the launcher's own servers
// pick free ports after the table's were released, and parallel tests pick too: CI found it),
// it is tried again with a new table, up to three times.
func startReady(t *testing.T, table func() []Service, opts Options) *running {
	t.Helper()
	for attempt := 1; ; attempt++ {
		r := startRun(t, table(), opts)
		err, returned := r.until("\nmesh ready")
		if !returned {
			return r
		}
		if attempt == 3 || !strings.Contains(r.out.String(), "address already in use") {
			t.Fatalf("Run returned %v before printing %q; output:\n%s", err, "\nmesh ready", r.out.String())
		}
		t.Logf("attempt %d: a port was taken meanwhile; trying other ports", attempt)
	}
}

// until waits until the output holds s (false) or Run returns first (its error, true),
// failing the test after a minute.
func (r *running) until(s string) (error, bool) {
	r.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(r.out.String(), s) {
		select {
		case err := <-r.done:
			r.done <- err
			return err, true
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no %q after a minute; output:\n%s", s, r.out.String())
		}
	}
	return nil, false
}

// waitFor waits until the output holds s, failing the test if Run returns or a minute passes.
func (r *running) waitFor(s string) {
	r.t.Helper()
	if err, returned := r.until(s); returned {
		r.t.Fatalf("Run returned %v before printing %q; output:\n%s", err, s, r.out.String())
	}
}

// wait returns Run's error.
func (r *running) wait() error {
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(time.Minute):
		r.t.Fatalf("Run did not return; output:\n%s", r.out.String())
		return nil
	}
}

func svc(t *testing.T, name string) Service {
	t.Helper()
	i := slices.IndexFunc(Services(), func(s Service) bool { return s.Name == name })
	s := Services()[i]
	if s.HTTPPort != 0 {
		s.GRPCPort, s.HTTPPort = freePort(t), freePort(t)
	}
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunStartsSupervisesAndStops runs a catalog, a service, a service that ignores SIGTERM and
// a simulator (fakes), with two services left out for want of a binary, then cancels the context.
func TestRunStartsSupervisesAndStops(t *testing.T) {
	t.Parallel()
	table := func() []Service {
		stubborn := svc(t, "quality")
		stubborn.Name = "stubborn"
		return []Service{svc(t, "catalog"), svc(t, "identity"), svc(t, "files"), svc(t, "quality"), stubborn, svc(t, "quality-sim")}
	}
	r := startReady(t, table, Options{StopTimeout: 6 * time.Second, Getenv: func(k string) string {
		return map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/home/dev", "SECRET": "x"}[k]
	}})
	tab := r.opts.Services
	stubborn := tab[4]
	r.waitFor("[quality-sim] simulating\n") // simulators count as up once started
	out := r.out.String()
	bin := r.opts.BinDir
	for _, want := range []string{
		"[mesh]        identity skipped: no " + bin + "/identity yet\n",
		"[mesh]        files skipped: no " + bin + "/files yet\n",
		"[catalog]     a line on stderr\n",
		"\nmesh ready: 3 services, NATS nats://127.0.0.1:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if a, b := strings.Index(out, "[catalog]     readyz: not yet"), strings.Index(out, "mesh ready"); a < 0 || a > b {
		t.Errorf("the catalog's unready answers should come before mesh ready")
	}

	var ep Endpoints
	b, err := os.ReadFile(filepath.Join(r.opts.Dir, EndpointsFile))
	if err != nil || json.Unmarshal(b, &ep) != nil {
		t.Fatalf("endpoints.json: %v\n%s", err, b)
	}
	if len(ep.Services) != 3 || ep.Services["stubborn"].GRPC != stubborn.GRPCAddr() || len(ep.Databases) != 3 {
		t.Errorf("endpoints.json services %v, databases %v: want catalog, quality, stubborn; catalog, identity, quality", ep.Services, ep.Databases)
	}
	pw, err := loadStorePasswords(r.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), pw.Postgres) || strings.Contains(string(b), pw.Redis) {
		t.Errorf("endpoints.json holds a store password:\n%s", b)
	}
	withPW := ep
	withPW.PostgresPassword = pw.Postgres
	cat, id := tab[0], tab[1]
	wantEnv := []string{"CATALOG_ADDR=" + cat.GRPCAddr(), "DATABASE_URL=" + withPW.PostgresURL("catalog"),
		"GRPC_ADDR=" + cat.GRPCAddr(), "HOME=/home/dev", "HTTP_ADDR=" + cat.HTTPAddr(), "IDENTITY_ADDR=" + id.GRPCAddr(),
		"JWKS_URL=http://" + id.HTTPAddr() + "/.well-known/jwks.json", "NATS_URL=" + ep.NATS,
		"OTEL_SERVICE_NAME=catalog", "PATH=/usr/bin:/bin", "SHUTDOWN_TIMEOUT=6s"}
	// The catalog answers NATS's authorization requests with the keys kept in secrets.json.
	keys, err := loadNATSKeys(r.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wantEnv = append(wantEnv, "ACCESS_SEED=", "NATS_USER=governance", "NATS_PASSWORD="+keys.GovernancePassword,
		"NATS_ISSUER_SEED="+keys.IssuerSeed, "NATS_AUTH_PASSWORD="+keys.AuthPassword,
		"NATS_SYSTEM_PASSWORD="+keys.SystemPassword, "NATS_IDENTITY_PASSWORD="+keys.IdentityPassword)
	secrets, err := loadSecrets(r.opts.Dir, tab)
	if err != nil {
		t.Fatal(err)
	}
	wantEnv = append(wantEnv, envPairs(secrets[Catalog])...)
	for _, s := range tab[2:] {
		if s.GRPCPort != 0 {
			wantEnv = append(wantEnv, strings.ToUpper(s.Name)+"_ADDR="+s.GRPCAddr())
		}
	}
	slices.Sort(wantEnv)
	if m := regexp.MustCompile(`\[catalog\] +env: (.*)\n`).FindStringSubmatch(out); m == nil || m[1] != strings.Join(wantEnv, " ") {
		t.Errorf("catalog's environment %q, want %q", m, strings.Join(wantEnv, " "))
	}

	r.cancel()
	if err := r.wait(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	out = r.out.String()
	if !strings.Contains(out, "[mesh]        stubborn did not stop within 6s: killing it\n") ||
		!strings.Contains(out, "[catalog]     and a last line without newline\n") {
		t.Errorf("output lacks the kill or the unfinished line:\n%s", out)
	}
	sim, q, c := strings.Index(out, "[quality-sim] terminated"), strings.Index(out, "[quality]     terminated"), strings.Index(out, "[catalog]     terminated")
	if sim < 0 || q < 0 || c < 0 || sim > q || q > c {
		t.Errorf("want the simulator, then quality, then the catalog terminated (at %d, %d, %d):\n%s", sim, q, c, out)
	}
	pids := regexp.MustCompile(`\] +pid=(\d+)`).FindAllStringSubmatch(out, -1)
	if len(pids) != 4 {
		t.Errorf("%d pids printed, want 4", len(pids))
	}
	for _, m := range pids {
		pid, _ := strconv.Atoi(m[1])
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("child %d still there after Run: %v", pid, err)
		}
	}
	var infra []namedPort
	if c, err := net.Dial("unix", ferretSocket(r.opts.Dir)); err == nil {
		c.Close()
		t.Errorf("FerretDB's socket still answers after Run")
	}
	for _, u := range []string{ep.NATS, ep.Postgres, ep.Redis} {
		port, _ := strconv.Atoi(regexp.MustCompile(`:(\d+)`).FindStringSubmatch(strings.TrimPrefix(u, "postgres://postgres@"))[1])
		infra = append(infra, namedPort{port, u})
	}
	if err := checkPorts(infra); err != nil {
		t.Errorf("infrastructure still listening after Run: %v", err)
	}
}

// TestRunRestartsThenGivesUp crashes a service twice with one restart allowed.
func TestRunRestartsThenGivesUp(t *testing.T) {
	t.Parallel()
	quality := svc(t, "quality")
	r := startRun(t, []Service{svc(t, "catalog"), quality}, Options{MaxRestarts: 1, RestartBackoff: 10 * time.Millisecond})
	r.waitFor("\nmesh ready")
	crash := func() { _, _ = http.Get("http://" + quality.HTTPAddr() + "/crash") } // it exits without answering
	crash()
	r.waitFor("[mesh]    quality exited (exit status 3): restarting in 10ms (restart 1 of 1)\n")
	r.waitFor("[mesh]    quality ready again\n")
	crash()
	err := r.wait()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Name != "quality" || ee.Times != 2 || ee.StartUp || !slices.Contains(ee.Tail, "crashing on request") {
		t.Fatalf("Run = %#v, want quality's *ExitError after 2 exits", err)
	}
	if want := "launcher: quality exited 2 times in a row (last: exit status 3); the mesh was stopped"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !strings.Contains(r.out.String(), "[catalog] terminated\n") {
		t.Errorf("the catalog was not stopped:\n%s", r.out.String())
	}
}

// TestRunChildExitsDuringStartup fails Run with the child's last lines.
func TestRunChildExitsDuringStartup(t *testing.T) {
	t.Parallel()
	broken := svc(t, "quality")
	broken.Name = "broken"
	r := startRun(t, []Service{svc(t, "catalog"), broken}, Options{})
	err := r.wait()
	var ee *ExitError
	if !errors.As(err, &ee) || !ee.StartUp || ee.Name != "broken" || len(ee.Tail) != 20 || ee.Tail[19] != "broken line 25" {
		t.Fatalf("Run = %v, want broken's start-up *ExitError with its last 20 lines", err)
	}
	if want := "launcher: broken exited during start-up (exit status 1)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !strings.HasPrefix(ee.TailText(), "[broken] broken line 6\n") {
		t.Errorf("TailText starts %q", ee.TailText())
	}
	if out := r.out.String(); strings.Contains(out, "mesh ready") || !strings.Contains(out, "[catalog] terminated\n") {
		t.Errorf("want no mesh ready and a stopped catalog:\n%s", out)
	}
}

// TestRunCancelledDuringStartup is a clean stop.
func TestRunCancelledDuringStartup(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, Options{Dir: filepath.Join(reachableDir(t), ".mesh"), BinDir: linkFakes(t, "catalog"),
		Services: []Service{svc(t, "catalog")}})
	if err != nil {
		t.Errorf("Run with a cancelled context = %v, want nil", err)
	}
}
