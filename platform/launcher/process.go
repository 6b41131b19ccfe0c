package launcher

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is one run of a child process.
type proc struct {
	name    string // the child's
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once the process has exited and its output is written
	err     error         // Wait's error, valid once done is closed
}

// startProc starts the binary at path with args and exactly env, its output going line by line
// to c behind name (and into tail). The child leads its own process group, so a terminal's Ctrl-C
// reaches it only through the launcher, and gets SIGTERM if the launcher dies (Linux).
func startProc(path string, args []string, name string, env []string, c *console, tail *lineTail) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	stdout := &lineWriter{c: c, name: name, tail: tail}
	stderr := &lineWriter{c: c, name: name, tail: tail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr, syscall.SIGTERM)
	// A grandchild holding the output pipes open must not keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launcher: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		stdout.flush()
		stderr.flush()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process's group, so that anything it started gets it too.
func (p *proc) signal(sig syscall.Signal) {
	if p.exited() {
		return
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		_ = p.cmd.Process.Signal(sig) // the group is gone; the leader may still be there
	}
}

// status describes how the process ended: "exit status 1", "signal: killed", "exit status 0".
func (p *proc) status() string {
	<-p.done
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// ExitError is a child that exited when it should not have: during start-up, or once more than
// MaxRestarts times in a row after it. Run stops the mesh and returns it.
type ExitError struct {
	// Name is the child's name in the table.
	Name string
	// Status is how its last run ended, e.g. "exit status 1".
	Status string
	// Times is how many times in a row it exited; 1 for an exit during start-up.
	Times int
	// StartUp is set when it exited before it was ready.
	StartUp bool
	// Tail is its last output lines, oldest first.
	Tail []string
}

// Error is one line; the output lines are in Tail.
func (e *ExitError) Error() string {
	if e.StartUp {
		return fmt.Sprintf("launcher: %s exited during start-up (%s)", e.Name, e.Status)
	}
	return fmt.Sprintf("launcher: %s exited %d times in a row (last: %s); the mesh was stopped", e.Name, e.Times, e.Status)
}

// TailText returns the last output lines, each behind "[name] ", for printing under the error.
func (e *ExitError) TailText() string {
	var b strings.Builder
	for _, l := range e.Tail {
		b.WriteString("[" + e.Name + "] " + l + "\n")
	}
	return b.String()
}

// errStopping is what starting a child returns once the mesh is stopping.
var errStopping = errors.New("launcher: the mesh is stopping")
