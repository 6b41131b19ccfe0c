package launcher

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stableAfter is how long a child must have run for its next exit to start a fresh restart count.
const stableAfter = time.Minute

// supervisor starts the children, restarts those that die and stops them all.
type supervisor struct {
	opts  Options // with defaults
	c     *console
	table []Service
	ep    Endpoints
	file  *endpointsFile
	own   map[string][]string // each service's own NAME=value pairs (secrets, service account)
	fatal chan error          // the first child to exhaust its restarts (or fail to restart)
	wg    sync.WaitGroup

	mu       sync.Mutex // guards stopping and every child's cur
	stopping bool
	stopCh   chan struct{} // closed when stopping becomes true
}

// child is one process of the plan (a service's replica, a simulator, a NATS node) and its
// current run.
type child struct {
	svc     Service // the table's entry; a NATS node has only a Name
	name    string  // its log prefix and name in endpoints.json: svc.Name, "quality-2", "nats-1"
	kind    string  // KindDomain or KindNATS
	replica int     // 1 … Options.Replicas for a service, 1 otherwise
	path    string
	args    []string
	env     []string
	ready   string // the URL that answers 200 once it is ready; "" for a simulator, up once started
	where   string // its addresses, for the "ready on" line
	tail    *lineTail
	cur     *proc // guarded by supervisor.mu
}

func newSupervisor(opts Options, c *console, ep Endpoints, file *endpointsFile) *supervisor {
	return &supervisor{opts: opts, c: c, table: opts.Services, ep: ep, file: file, own: map[string][]string{},
		fatal: make(chan error, 1), stopCh: make(chan struct{})}
}

// addEnv gives the service name more variables of its own; call it before newChild.
func (s *supervisor) addEnv(name string, pairs ...string) {
	s.own[name] = append(s.own[name], pairs...)
}

// env returns svc's whole environment, with extra pairs.
func (s *supervisor) env(svc Service, extra ...string) []string {
	getenv := s.opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return childEnv(svc, s.table, s.ep, getenv, append(slices.Clone(s.own[svc.Name]), extra...)...)
}

// newChild is the first (or only) replica of svc.
func (s *supervisor) newChild(svc Service) *child {
	ch := &child{svc: svc, name: svc.Name, kind: KindDomain, replica: 1, path: filepath.Join(s.opts.BinDir, svc.Name),
		env: s.env(svc), tail: newLineTail(20)}
	if svc.HTTPPort != 0 {
		ch.ready, ch.where = "http://"+svc.HTTPAddr()+"/readyz", fmt.Sprintf("%s (HTTP %s)", svc.GRPCAddr(), svc.HTTPAddr())
	}
	return ch
}

// newReplica is replica r (from 1) of svc under Options.Replicas > 1: on svc's ports plus
// ReplicaPortStep·(r−1), named as replicaName says, with REPLICA=r in its environment.
func (s *supervisor) newReplica(svc Service, r int) *child {
	svc = svc.replica(r)
	ch := s.newChild(svc)
	ch.name, ch.replica = replicaName(svc.Name, r), r
	ch.env = s.env(svc, "REPLICA="+strconv.Itoa(r))
	return ch
}

// start begins a new run of ch, unless the mesh is stopping, and records its pid in
// endpoints.json.
func (s *supervisor) start(ch *child) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, errStopping
	}
	p, err := startProc(ch.path, ch.args, ch.name, ch.env, s.c, ch.tail)
	if err != nil {
		return nil, err
	}
	ch.cur = p
	if err := s.file.started(Process{Name: ch.name, Kind: ch.kind, Replica: ch.replica, PID: p.cmd.Process.Pid}); err != nil {
		s.c.say("%s: %v", ch.name, err)
	}
	return p, nil
}

// startGroup starts every child of the group together and waits until each service answers
// /readyz (simulators count as up once started). It fails at the first child that cannot start,
// exits or stays unready; the children already running are left for stop.
func (s *supervisor) startGroup(ctx context.Context, group []*child) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(group))
	waiting := 0
	var first error
	for _, ch := range group {
		p, err := s.start(ch)
		if err != nil {
			first = err
			break
		}
		if ch.ready == "" {
			s.c.say("%s started", ch.name)
			s.supervise(ch, p)
			continue
		}
		waiting++
		go func() {
			err := waitReady(ctx, ch.name, ch.ready, p, s.opts.ReadyTimeout)
			switch {
			case err == nil:
				s.c.say("%s ready on %s", ch.name, ch.where)
				s.supervise(ch, p)
			case p.exited():
				err = &ExitError{Name: ch.name, Status: p.status(), Times: 1, StartUp: true, Tail: ch.tail.get()}
			}
			errc <- err
		}()
	}
	if first != nil {
		cancel()
	}
	// Every waiter is heard from, so none supervises a child once this returns with an error.
	for range waiting {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// supervise watches ch's run p in the background and restarts ch when it dies, with a doubling
// backoff, until it has died more than MaxRestarts times in a row: then it reports an
// *ExitError on s.fatal.
func (s *supervisor) supervise(ch *child, p *proc) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		failures := 0
		for {
			select {
			case <-p.done:
			case <-s.stopCh:
				return
			}
			if s.isStopping() {
				return
			}
			if time.Since(p.started) >= stableAfter {
				failures = 0
			}
			failures++
			name, status := ch.name, p.status()
			if failures > s.opts.MaxRestarts {
				s.c.say("%s exited (%s) %d times in a row: stopping the mesh", name, status, failures)
				s.report(&ExitError{Name: name, Status: status, Times: failures, Tail: ch.tail.get()})
				return
			}
			backoff := s.opts.RestartBackoff << (failures - 1)
			s.c.say("%s exited (%s): restarting in %s (restart %d of %d)", name, status, backoff, failures, s.opts.MaxRestarts)
			select {
			case <-time.After(backoff):
			case <-s.stopCh:
				return
			}
			next, err := s.start(ch)
			if errors.Is(err, errStopping) {
				return
			}
			if err != nil {
				s.report(err)
				return
			}
			p = next
			if ch.ready != "" {
				s.wg.Add(1) // while this watcher holds the group open, so stop waits for it too
				go s.announceReady(ch, p)
			}
		}
	}()
}

// announceReady says when a restarted service answers /readyz again.
func (s *supervisor) announceReady(ch *child, p *proc) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	if waitReady(ctx, ch.name, ch.ready, p, s.opts.ReadyTimeout) == nil {
		s.c.say("%s ready again", ch.name)
	}
}

func (s *supervisor) report(err error) {
	select {
	case s.fatal <- err:
	default: // one reason to stop is enough
	}
}

func (s *supervisor) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// stop ends every child: SIGTERM to each group of children in turn, in reverse start order,
// each group waited for up to its share of the time left (so that one stuck child does not
// keep the groups after it from a graceful stop), then SIGKILL to whatever still runs at
// deadline. It returns once every child has exited and every watcher has ended.
func (s *supervisor) stop(groups [][]*child, deadline time.Time) {
	s.mu.Lock()
	if !s.stopping {
		s.stopping = true
		close(s.stopCh)
	}
	s.mu.Unlock() // no child starts any more: every cur is fixed from here on

	running := func(g []*child) []*proc {
		var ps []*proc
		for _, ch := range g {
			if ch.cur != nil && !ch.cur.exited() {
				ps = append(ps, ch.cur)
			}
		}
		return ps
	}
	var all []*proc
	for i := len(groups) - 1; i >= 0; i-- {
		ps := running(groups[i])
		all = append(all, ps...)
		for j := len(ps) - 1; j >= 0; j-- {
			ps[j].signal(syscall.SIGTERM)
		}
		waitAll(ps, time.Now().Add(time.Until(deadline)/time.Duration(i+1)))
	}
	waitAll(all, deadline)
	for _, p := range all {
		if !p.exited() {
			s.c.say("%s did not stop within %s: killing it", p.name, s.opts.StopTimeout)
			p.signal(syscall.SIGKILL)
		}
	}
	for _, p := range all {
		<-p.done
	}
	s.wg.Wait()
}

// waitAll waits until every process has exited or until is reached.
func waitAll(ps []*proc, until time.Time) {
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	for _, p := range ps {
		select {
		case <-p.done:
		case <-timer.C:
			return
		}
	}
}
