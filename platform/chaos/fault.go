package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// injector injects the suite's faults into one mesh.
type injector struct {
	m       *Mesh
	ackWait time.Duration
	faults  map[string]*FaultCount
	// started are the NATS nodes meshchaos brought back itself, stopped by stop.
	started []startedNode
}

// startedNode is a NATS node process meshchaos started; exited yields its Wait.
type startedNode struct {
	cmd    *exec.Cmd
	exited chan error
}

// stop ends the NATS node processes the injector started.
func (in *injector) stop() {
	for _, n := range in.started {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	}
}

func newInjector(m *Mesh, ackWait time.Duration) *injector {
	in := &injector{m: m, ackWait: ackWait, faults: map[string]*FaultCount{}}
	for _, k := range FaultKinds {
		in.faults[k] = &FaultCount{Kind: k}
	}
	return in
}

// counts returns the injections in FaultKinds order.
func (in *injector) counts() []FaultCount {
	out := make([]FaultCount, 0, len(FaultKinds))
	for _, k := range FaultKinds {
		out = append(out, *in.faults[k])
	}
	return out
}

func (in *injector) done(kind, note string, err error) {
	f := in.faults[kind]
	if err != nil {
		f.Failed++
		f.Notes = append(f.Notes, "FAILED: "+err.Error())
		return
	}
	f.Injected++
	f.Notes = append(f.Notes, note)
}

// replicas are the running processes of service.
func (in *injector) replicas(service string) []Proc {
	return Named(Descendants(in.m.PID()), service)
}

// killReplica sends SIGKILL to the n-th running replica of service and waits up to 30 s for
// the launcher to bring the replica count back.
func (in *injector) killReplica(service string, n int) {
	procs := in.replicas(service)
	if len(procs) == 0 {
		in.done(KillReplica, "", fmt.Errorf("no %s process runs", service))
		return
	}
	p := procs[n%len(procs)]
	start := time.Now()
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		in.done(KillReplica, "", fmt.Errorf("kill %s %d: %w", service, p.PID, err))
		return
	}
	back := waitFor(30*time.Second, func() bool {
		now := in.replicas(service)
		return len(now) >= len(procs) && !containsPID(now, p.PID)
	})
	if !back {
		in.done(KillReplica, "", fmt.Errorf("%s pid %d killed, not restarted within 30 s", service, p.PID))
		return
	}
	in.done(KillReplica, fmt.Sprintf("%s pid %d, restarted in %s", service, p.PID, time.Since(start).Round(100*time.Millisecond)), nil)
}

// pauseConsumer stops the n-th replica of service with SIGSTOP for AckWait + 5 s, so the
// server redelivers what it held, then lets it go on with SIGCONT. It returns at once; the
// pause ends in the background, and at the latest when ctx ends.
func (in *injector) pauseConsumer(ctx context.Context, service string, n int) <-chan struct{} {
	done := make(chan struct{})
	procs := in.replicas(service)
	if len(procs) == 0 {
		in.done(PauseConsumer, "", fmt.Errorf("no %s process runs", service))
		close(done)
		return done
	}
	p := procs[n%len(procs)]
	if err := syscall.Kill(p.PID, syscall.SIGSTOP); err != nil {
		in.done(PauseConsumer, "", fmt.Errorf("SIGSTOP %s %d: %w", service, p.PID, err))
		close(done)
		return done
	}
	pause := in.ackWait + 5*time.Second
	in.done(PauseConsumer, fmt.Sprintf("%s pid %d stopped %s (AckWait %s)", service, p.PID, pause, in.ackWait), nil)
	go func() {
		defer close(done)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
		_ = syscall.Kill(p.PID, syscall.SIGCONT)
	}()
	return done
}

// restartPostgres restarts the launcher's Postgres with pg_ctl restart -m immediate (no
// checkpoint, crash recovery on start) and waits for it to accept connections again. The new
// server logs to chaos-restart.log in its data directory, the one place the postgres user may
// write.
func (in *injector) restartPostgres(ctx context.Context) {
	dir := in.m.Endpoints.PostgresData
	if dir == "" {
		in.done(RestartPostgres, "", fmt.Errorf("endpoints.json names no Postgres data directory"))
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := pgCtl(ctx, dir, "restart", "-m", "immediate", "-w", "-t", "50", "-l", filepath.Join(dir, "chaos-restart.log")); err != nil {
		in.done(RestartPostgres, "", fmt.Errorf("pg_ctl restart: %v: %s", err, strings.TrimSpace(out)))
		return
	}
	in.done(RestartPostgres, fmt.Sprintf("up again in %s", time.Since(start).Round(100*time.Millisecond)), nil)
}

// killNATSNode sends SIGKILL to one NATS node process (not the first, which the launcher
// names in endpoints.json first) and waits up to 30 s for a process of that node to run again.
// Without node processes the fault is not available.
func (in *injector) killNATSNode(round int) {
	nodes := NATSNodes(Descendants(in.m.PID()))
	if len(nodes) == 0 {
		in.faults[KillNATSNode].Unavailable = "nats nodes run in-process (no process with nats-node --name nats-N under meshctl up)"
		return
	}
	name := fmt.Sprintf("nats-%d", 2+round%2)
	p, ok := nodes[name]
	if !ok {
		for n, q := range nodes {
			name, p = n, q
			break
		}
	}
	// What it takes to start the node again, should the launcher not.
	env, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID), "environ"))
	cwd, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.PID), "cwd"))
	start := time.Now()
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		in.done(KillNATSNode, "", fmt.Errorf("kill %s %d: %w", name, p.PID, err))
		return
	}
	back := waitFor(15*time.Second, func() bool {
		q, ok := NATSNodes(Descendants(in.m.PID()))[name]
		return ok && q.PID != p.PID
	})
	if back {
		in.done(KillNATSNode, fmt.Sprintf("%s pid %d, restarted by the launcher in %s", name, p.PID, time.Since(start).Round(100*time.Millisecond)), nil)
		return
	}
	if err := in.restartNode(name, p.Args, strings.Split(strings.TrimRight(string(env), "\x00"), "\x00"), cwd); err != nil {
		in.done(KillNATSNode, "", fmt.Errorf("%s pid %d killed, not restarted by the launcher within 15 s, nor by meshchaos: %w", name, p.PID, err))
		return
	}
	in.done(KillNATSNode, fmt.Sprintf("%s pid %d, not restarted by the launcher within 15 s: meshchaos started it again with the same command line", name, p.PID), nil)
}

// restartNode starts a killed NATS node again with its command line, environment and working
// directory, logging to <mesh dir>/logs/<name>-chaos.log, and checks it still runs 2 s later.
func (in *injector) restartNode(name string, args, env []string, cwd string) error {
	log, err := os.Create(filepath.Join(in.m.Dir, "logs", name+"-chaos.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, cwd, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	n := startedNode{cmd: cmd, exited: make(chan error, 1)}
	go func() { n.exited <- cmd.Wait() }()
	select {
	case err := <-n.exited:
		return fmt.Errorf("the restarted node exited: %v", err)
	case <-time.After(2 * time.Second):
	}
	in.started = append(in.started, n)
	return nil
}

// pgCtl runs pg_ctl of the cluster in dir (the binary next to the postgres that
// postmaster.opts names), as the postgres user when running as root, as the launcher does.
func pgCtl(ctx context.Context, dir string, args ...string) (string, error) {
	opts, err := os.ReadFile(filepath.Join(dir, "postmaster.opts"))
	if err != nil {
		return "", err
	}
	fields := strings.Fields(string(opts))
	if len(fields) == 0 {
		return "", fmt.Errorf("%s/postmaster.opts is empty", dir)
	}
	pgctl := filepath.Join(filepath.Dir(strings.Trim(fields[0], `"`)), "pg_ctl")
	cmd := exec.CommandContext(ctx, pgctl, append([]string{"-D", dir}, args...)...)
	cmd.Dir = "/"
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	// pg_ctl's server outlives it: it must not hold our output open.
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func containsPID(procs []Proc, pid int) bool {
	for _, p := range procs {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// waitFor polls cond every 100 ms for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
