package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshwork.dev/platform/chaos"
	"meshwork.dev/platform/testinfra"
)

// mesh is one `meshctl up` process and what it printed.
type mesh struct {
	cmd    *exec.Cmd
	out    *testinfra.Output
	exited chan error
	offset int
}

// startMesh runs `meshctl up` on free ports and waits for its `mesh ready` line. A port taken
// between chaos.FreeOffset's check and the mesh binding it is tried again on other ports.
func startMesh(t *testing.T, bin, dir string) *mesh {
	t.Helper()
	return startMeshIn(t, bin, dir, "")
}

// startMeshIn is startMesh with meshctl up run in the repository cwd (whose
// domains/*/service.json it reads; "" is the test's directory) and given extra flags.
func startMeshIn(t *testing.T, bin, dir, cwd string, extra ...string) *mesh {
	t.Helper()
	for attempt := 1; ; attempt++ {
		offset, err := chaos.FreeOffset()
		if err != nil {
			t.Fatal(err)
		}
		m, err := tryStartMesh(t, bin, dir, cwd, offset, extra)
		if err == nil {
			return m
		}
		if attempt == 3 || !strings.Contains(m.out.String(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("attempt %d: a port was taken meanwhile; trying other ports", attempt)
	}
}

// restartMesh runs `meshctl up` again on the ports of a mesh that has stopped (offset), as a
// user's second `make run` does: a saved meshctl session belongs to the identity address it
// was issued by, so a second run on other ports would find no session (CI found it: the
// second run drew another offset on a loaded machine and `catalog ls` went unauthenticated).
// A port still taken is waited for, up to three tries.
func restartMesh(t *testing.T, bin, dir string, offset int) *mesh {
	t.Helper()
	for attempt := 1; ; attempt++ {
		m, err := tryStartMesh(t, bin, dir, "", offset, nil)
		if err == nil {
			return m
		}
		if attempt == 3 || !strings.Contains(m.out.String(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("attempt %d: a port of offset %d is still taken; waiting", attempt, offset)
		time.Sleep(2 * time.Second)
	}
}

func tryStartMesh(t *testing.T, bin, dir, cwd string, offset int, extra []string) (*mesh, error) {
	t.Helper()
	m := &mesh{out: &testinfra.Output{}, exited: make(chan error, 1), offset: offset}
	m.cmd = exec.Command(filepath.Join(bin, "meshctl"), append([]string{"up", "--dir", dir, "--bin", bin, "--no-sim",
		"--port-offset", fmt.Sprint(offset)}, extra...)...)
	m.cmd.Dir = cwd
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	m.cmd.Env = append(os.Environ(), "CATALOG_ADDR=", "NATS_URL=")
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start meshctl up: %v", err)
	}
	go func() { m.exited <- m.cmd.Wait() }()
	t.Cleanup(func() {
		if m.cmd.ProcessState == nil {
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
		if t.Failed() {
			t.Logf("meshctl up printed:\n%s", m.out.String())
		}
	})
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(m.out.String(), "\nmesh ready") && !strings.HasPrefix(m.out.String(), "mesh ready") {
		select {
		case err := <-m.exited:
			m.exited <- err
			return m, fmt.Errorf("meshctl up exited before mesh ready: %v\n%s", err, m.out.String())
		case <-deadline:
			t.Fatalf("no mesh ready line within 3 minutes:\n%s", m.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return m, nil
}

// stop sends SIGINT, as Ctrl-C does, and returns how long the mesh took to exit.
func (m *mesh) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if err := m.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	select {
	case err := <-m.exited:
		if err != nil {
			t.Errorf("meshctl up after SIGINT: %v\n%s", err, m.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("meshctl up still running 30 s after SIGINT")
	}
	return time.Since(start)
}

func (m *mesh) catalogAddr() string { return fmt.Sprintf("127.0.0.1:%d", 7000+m.offset) }
func (m *mesh) natsURL() string     { return fmt.Sprintf("nats://127.0.0.1:%d", 4222+m.offset) }

// run runs a client command and returns its standard output, failing t on a non-zero exit.
func run(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	out, err := output(ctx, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// firstLine reads the first line a command prints, then stops it.
func firstLine(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	cancel()
	_, _ = io.Copy(io.Discard, stdout)
	_ = cmd.Wait()
	if err != nil {
		t.Fatalf("%s: no line: %v\n%s", filepath.Base(name), err, stderr.String())
	}
	return line
}
