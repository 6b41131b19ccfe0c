package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server running as a child process, with the tail of its output kept for errors.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    *tailBuffer
	exited chan struct{} // closed once the process has exited and its output is copied
	err    error         // the exit error, valid once exited is closed

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts cmd with its output copied to stdout and stderr (either may be nil) and to
// a tail buffer. If the calling process dies, the child gets deathSig (on Linux).
func startProcess(name string, cmd *exec.Cmd, stdout, stderr io.Writer, deathSig syscall.Signal) (*process, error) {
	p := &process{name: name, cmd: cmd, log: newTailBuffer(8 << 10), exited: make(chan struct{})}
	cmd.Stdout = teeTo(p.log, stdout)
	cmd.Stderr = teeTo(p.log, stderr)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setDeathSignal(cmd.SysProcAttr, deathSig)
	// Its own process group: a terminal's Ctrl-C reaches only the launcher or test binary, which
	// then stops servers after the services that use them have drained.
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitError describes an unexpected exit, with the tail of the log.
func (p *process) exitError() error {
	<-p.exited
	return fmt.Errorf("%s exited (%v); log tail:\n%s", p.name, p.err, p.log.String())
}

// stop sends sig and waits for the process to exit. When ctx ends first it kills the process
// (after sending hardSig, if given, and waiting a moment). It is safe to call more than once.
func (p *process) stop(ctx context.Context, sig, hardSig syscall.Signal) error {
	p.stopOnce.Do(func() {
		if !p.running() {
			return
		}
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.stopErr = fmt.Errorf("signal %s: %w", p.name, err)
		}
		select {
		case <-p.exited:
			return
		case <-ctx.Done():
		}
		if hardSig != 0 {
			_ = p.cmd.Process.Signal(hardSig)
			select {
			case <-p.exited:
				p.stopErr = fmt.Errorf("stop %s: %w (stopped with %v)", p.name, ctx.Err(), hardSig)
				return
			case <-time.After(5 * time.Second):
			}
		}
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.stopErr = fmt.Errorf("stop %s: %w (killed)", p.name, ctx.Err())
	})
	return p.stopErr
}

// tailBuffer keeps the last max bytes written to it. It is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

// Write keeps the end of p; it never fails.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, trimmed.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

func teeTo(tail *tailBuffer, w io.Writer) io.Writer {
	if w == nil {
		return tail
	}
	return io.MultiWriter(tail, w)
}
