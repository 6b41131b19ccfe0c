package launcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// infraStopTime is what the infrastructure gets to stop after the children, on top of
// StopTimeout: Postgres's shutdown checkpoint takes well under a second on an idle machine and
// several on a loaded one, so a whole stop stays within about 12 s.
const infraStopTime = 4 * time.Second

// Run starts the infrastructure and the planned services as the package doc describes, prints
// the "mesh ready" summary and supervises until ctx is cancelled; then it stops everything and
// returns nil. It returns an error when something cannot start, when a child exits during
// start-up (an *ExitError with its last lines) or when a child exhausts its restarts (also an
// *ExitError, after stopping the mesh). A ctx cancelled during start-up is a clean stop too.
func Run(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	if err := opts.absDirs(); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	pl, err := selectServices(opts.Services, opts.BinDir, opts.NoSim, opts.Only)
	if err != nil {
		return err
	}
	if opts.Replicas < 1 || opts.Replicas > MaxReplicas {
		return fmt.Errorf("launcher: %d replicas: want 1 to %d", opts.Replicas, MaxReplicas)
	}
	var nodes []natsNode
	if opts.HA {
		if nodes, err = planCluster(opts.Dir, opts.Ports); err != nil {
			return err
		}
	}
	all := pl.all()
	ports := infraPorts(opts.Ports, opts.HA)
	var procNames []string // every child's, for the width of the log prefixes
	for _, n := range nodes {
		procNames = append(procNames, n.name())
	}
	for _, s := range all {
		for r := 1; r <= opts.Replicas && (r == 1 || s.replicated()); r++ {
			name := replicaName(s.Name, r)
			s := s.replica(r)
			procNames = append(procNames, name)
			ports = append(ports, namedPort{s.GRPCPort, name + " gRPC"}, namedPort{s.HTTPPort, name + " HTTP"})
		}
	}
	if err := distinctPorts(ports); err != nil {
		return err
	}
	if err := checkPorts(ports); err != nil {
		return err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	secrets, err := loadSecrets(opts.Dir, all)
	if err != nil {
		return err
	}
	natsKeys, err := loadNATSKeys(opts.Dir)
	if err != nil {
		return err
	}
	passwords, err := loadStorePasswords(opts.Dir)
	if err != nil {
		return err
	}
	c := newConsole(opts.Stdout, procNames)
	for _, name := range pl.skipped {
		c.say("%s skipped: no %s/%s yet", name, opts.BinDir, name)
	}
	c.say("starting NATS, FerretDB, Postgres and Redis in %s (their logs: %s/logs/*.log)", opts.Dir, opts.Dir)
	inf, err := StartInfra(ctx, InfraOptions{Dir: opts.Dir, Ports: opts.Ports, Databases: Databases(opts.Services), NATSAuth: &natsKeys,
		HA: opts.HA, Passwords: passwords,
		PostgresFallback: opts.PostgresFallback, Say: c.say})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ep := inf.Endpoints()
	if opts.HA {
		ep = ep.withCluster(nodes)
	}
	file := &endpointsFile{dir: opts.Dir}
	sup := newSupervisor(opts, c, ep, file)
	for name, vars := range secrets {
		sup.addEnv(name, envPairs(vars)...)
	}
	for name, pairs := range natsEnv(natsKeys, all) {
		sup.addEnv(name, pairs...)
	}
	if len(pl.sims) > 0 {
		for _, s := range pl.services {
			sup.addEnv(s.Name, s.Demo...)
		}
	}
	id, others := pl.identity()
	// Start order: the NATS nodes (under HA), the catalog, identity, the other services, the
	// simulators. Between identity and the rest the launcher bootstraps the admin and the
	// service accounts.
	var groups [][]*child
	err = file.write(ep)
	for _, p := range inf.Processes() {
		if err == nil {
			err = file.started(p)
		}
	}
	if err == nil && opts.HA {
		c.say("starting the NATS cluster: %d node processes", len(nodes))
		g := make([]*child, 0, len(nodes))
		for _, n := range nodes {
			ch, nerr := sup.newNode(n)
			if nerr != nil {
				err = nerr
				break
			}
			g = append(g, ch)
		}
		if err == nil {
			groups = append(groups, g)
			err = sup.startGroup(ctx, g)
		}
	}
	stages := [][]Service{{pl.catalog}, id, others, pl.sims}
	for i, stage := range stages {
		if err != nil {
			break
		}
		if i == 2 && len(id) == 1 {
			err = sup.setUpIdentity(ctx, id[0], append(slices.Clone(others), pl.sims...))
			if err != nil {
				break
			}
		}
		// A stage's replicas start together: the domains migrate under an advisory lock and
		// provision streams tolerating a concurrent creator. The stage is done when all are
		// ready.
		g := make([]*child, 0, len(stage)*opts.Replicas)
		for _, s := range stage {
			if opts.Replicas == 1 || !s.replicated() {
				g = append(g, sup.newChild(s))
				continue
			}
			for r := 1; r <= opts.Replicas; r++ {
				g = append(g, sup.newReplica(s, r))
			}
		}
		groups = append(groups, g)
		err = sup.startGroup(ctx, g)
	}
	if err == nil {
		err = file.write(ep.withServices(all))
	}
	if err == nil {
		c.block(readySummary(ep, append([]Service{pl.catalog}, pl.services...), pl.sims, opts.Dir))
		select {
		case <-ctx.Done():
		case err = <-sup.fatal:
		}
	}

	begin := time.Now()
	c.say("stopping")
	sup.stop(groups, begin.Add(opts.StopTimeout))
	stopCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), laterOf(begin.Add(opts.StopTimeout+infraStopTime), time.Now().Add(infraStopTime)))
	defer cancel()
	stopErr := inf.Stop(stopCtx)
	c.say("stopped in %s", time.Since(begin).Round(time.Millisecond))
	if err != nil && ctx.Err() != nil && !isExit(err) {
		err = nil // cancelled during start-up: a clean stop
	}
	if stopErr == nil {
		return err
	}
	return errors.Join(err, stopErr)
}

// setUpIdentity bootstraps the admin and the service accounts of clients with identity's
// binary and environment (see setUpIdentity), and gives each client its account's variables.
func (s *supervisor) setUpIdentity(ctx context.Context, id Service, clients []Service) error {
	tool := identityTool{path: filepath.Join(s.opts.BinDir, id.Name), env: s.env(id)}
	env, err := setUpIdentity(ctx, tool, s.opts.Dir, s.ep.PostgresData, clients, s.c.say)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(clients, func(c Service) bool { return c.Simulator }) {
		if err := ensureDemoCrew(ctx, tool, s.opts.Dir, s.c.say); err != nil {
			return err
		}
	}
	for name, pairs := range env {
		s.addEnv(name, pairs...)
	}
	return nil
}

func isExit(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee)
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Only parses the --only flag's comma-separated list, dropping blanks.
func Only(list string) []string {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
