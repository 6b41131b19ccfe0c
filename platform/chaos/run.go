package chaos

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"meshwork.dev/platform/dataproduct"
)

// Config sizes one run.
type Config struct {
	// Name is the run's name in the table: small or long.
	Name string
	// Bin holds every binary `make build` builds (meshctl and the services).
	Bin string
	// WearMachines and FaultMachines are how many machines wear out (health, maintenance
	// jobs) and how many have a sensor going out of range (faults, replacement jobs).
	WearMachines, FaultMachines int
	// Ticks is how many readings each of a machine's three sensors sends.
	Ticks int
	// Rounds is how many times every fault is injected; Round how long one round lasts. The
	// load is spread over Rounds × Round.
	Rounds int
	Round  time.Duration
	// SingleNATS runs NATS as one server instead of the --ha cluster, for comparison.
	SingleNATS bool
	// Replicas is how many processes per domain to ask meshctl up for.
	Replicas int
	// Settle bounds the wait, after the load, for the products to hold every reading.
	Settle time.Duration
	// Keep leaves the mesh's temporary directory in place.
	Keep bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Small is the run of `make chaos` and of TestChaosSmall: 2 machines × 3 sensors × 1800
// readings, every fault once, two replicas per domain.
func Small(bin string) Config {
	return Config{Name: "small", Bin: bin, WearMachines: 1, FaultMachines: 1, Ticks: 1800, Rounds: 1, Round: 55 * time.Second, Replicas: 2,
		Settle: 3 * time.Minute}
}

// Long is `make chaos CHAOS=long`: 4 machines × 3 sensors × 3600 readings, every fault 3 times.
func Long(bin string) Config {
	return Config{Name: "long", Bin: bin, WearMachines: 2, FaultMachines: 2, Ticks: 3600, Rounds: 3, Round: 60 * time.Second, Replicas: 2,
		Settle: 10 * time.Minute}
}

// machines are the run's machines, named after the run so a kept mesh tells runs apart.
func (c Config) machines(run string) []Machine {
	var out []Machine
	for i := range c.WearMachines {
		out = append(out, Machine{ID: fmt.Sprintf("chaos-%s-w%d", run, i+1), Wear: true})
	}
	for i := range c.FaultMachines {
		out = append(out, Machine{ID: fmt.Sprintf("chaos-%s-f%d", run, i+1), FaultAt: c.Ticks/4 + 100*i})
	}
	return out
}

// Run starts the mesh, drives the load while injecting the faults, reads back every product
// the load reaches and counts. The report is valid whenever the error is nil; a mesh that
// did not start, or a load that could not be sent, is an error.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	began := time.Now()
	bin, err := filepath.Abs(cfg.Bin)
	cfg.Bin = bin
	if err != nil {
		return Report{}, err
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "[chaos] "+format+"\n", args...)
		}
	}
	topo := DetectTopology(ctx, cfg.Bin+"/meshctl", !cfg.SingleNATS, cfg.Replicas)
	run := fmt.Sprintf("%x", began.Unix()%0xffffff)
	machines := cfg.machines(run)
	rep = Report{DoubleBookings: -1}
	nats1 := "NATS: 3-node cluster (meshctl up --ha)"
	if !topo.HA {
		nats1 = "NATS: single node"
	}
	rep.Header = []string{
		fmt.Sprintf("meshchaos %s run: %d machines × 3 sensors × %d readings = %d readings, %d round(s) of %s, loopback only",
			cfg.Name, len(machines), cfg.Ticks, len(machines)*3*cfg.Ticks, cfg.Rounds, cfg.Round),
		fmt.Sprintf("topology: %s, %d replica(s) per domain", nats1, topo.Replicas)}
	for _, why := range topo.Why {
		rep.Header = append(rep.Header, "fallback: "+why)
	}
	logf("starting the mesh: %s", rep.Header[1])
	m, err := StartMesh(ctx, cfg.Bin, topo)
	defer func() {
		if err != nil {
			logf("meshctl up's last lines:\n%s", lastLines(m.Output(), 60))
		}
		if err := m.Stop(cfg.Keep); err != nil {
			logf("%v", err)
		}
	}()
	if err != nil {
		return rep, err
	}
	logf("mesh ready in %s at port offset %d, data in %s", time.Since(began).Round(time.Second), m.Offset, m.Dir)

	nc, err := nats.Connect(m.Endpoints.NATS, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.TokenHandler(func() string { tok, _ := m.Token(ctx); return tok }))
	if err != nil {
		return rep, fmt.Errorf("chaos: connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return rep, err
	}
	token, err := m.Token(ctx)
	if err != nil {
		return rep, err
	}
	gctx := withToken(ctx, token)
	quality, err := dial(m.Addr(3))
	if err != nil {
		return rep, err
	}
	defer quality.Close()
	_, withScheduling := m.Endpoints.Services["scheduling"]
	var scheduling *grpc.ClientConn
	if withScheduling {
		if scheduling, err = dial(m.Addr(5)); err != nil {
			return rep, err
		}
		defer scheduling.Close()
		if err := crew(gctx, m, scheduling, run, 2); err != nil {
			return rep, err
		}
	}
	if err := registerMachines(gctx, quality, machines); err != nil {
		return rep, err
	}
	if !waitFor(time.Minute, func() bool { _, err := js.Stream(ctx, "QUALITY_INGEST"); return err == nil }) {
		return rep, fmt.Errorf("chaos: quality never provisioned QUALITY_INGEST")
	}

	inj := newInjector(m, dataproduct.DefaultAckWait)
	defer inj.stop()
	loadDone := make(chan struct{})
	var load loadResult
	var loadErr error
	go func() {
		defer close(loadDone)
		load, loadErr = publishLoad(ctx, js, run, machines, cfg.Ticks, time.Duration(cfg.Rounds)*cfg.Round)
	}()
	logf("load: %d readings over %s; faults every round", len(machines)*3*cfg.Ticks, time.Duration(cfg.Rounds)*cfg.Round)
	inject(ctx, inj, cfg, logf)
	<-loadDone
	if loadErr != nil {
		return rep, fmt.Errorf("chaos: load: %w", loadErr)
	}
	rep.Faults = inj.counts()
	rep.Header = append(rep.Header, fmt.Sprintf("load: %d readings acknowledged by QUALITY_INGEST, %d refused at the edge, %d publishes retried",
		len(load.Accepted), load.Refused, load.Retries))
	logf("load sent; waiting for the mesh to settle")
	took, settled := settle(ctx, js, len(load.Accepted), cfg.Settle)
	if settled {
		rep.Header = append(rep.Header, fmt.Sprintf("settled: every acknowledged reading in raw and clean readings, streams unchanged, %s after the load ended",
			took.Round(time.Second)))
	} else {
		rep.Header = append(rep.Header, fmt.Sprintf("NOT settled %s after the load ended: counted as it stands", took.Round(time.Second)))
	}

	if topo.HA {
		rep.Header = append(rep.Header, replication(ctx, js))
	}
	counts, doubles, err := countAll(ctx, js, m, machines, load, withScheduling)
	if err != nil {
		return rep, err
	}
	rep.Counts, rep.DoubleBookings = counts, doubles
	rep.Took = time.Since(began)
	return rep, nil
}

// inject runs cfg.Rounds rounds of every fault: a replica killed (quality and scheduling in
// turn), Postgres restarted, a NATS node killed, quality paused past its AckWait.
func inject(ctx context.Context, inj *injector, cfg Config, logf func(string, ...any)) {
	for r := range cfg.Rounds {
		start := time.Now()
		at := func(d time.Duration) {
			select {
			case <-time.After(time.Until(start.Add(d))):
			case <-ctx.Done():
			}
		}
		target := []string{"quality", "scheduling"}[r%2]
		at(3 * time.Second)
		logf("round %d: kill -9 a %s replica", r+1, target)
		inj.killReplica(target, r)
		at(9 * time.Second)
		logf("round %d: pg_ctl restart -m immediate", r+1)
		inj.restartPostgres(ctx)
		at(13 * time.Second)
		logf("round %d: kill -9 a NATS node", r+1)
		inj.killNATSNode(r)
		at(16 * time.Second)
		logf("round %d: SIGSTOP a quality replica for AckWait + 5 s", r+1)
		<-inj.pauseConsumer(ctx, "quality", r+1)
		at(cfg.Round)
	}
}

// settle waits until raw and clean readings hold at least the accepted readings and the
// products' counts stay unchanged for 5 s, at most limit, and says how long it took (the 5 s
// not included) and whether they settled.
func settle(ctx context.Context, js jetstream.JetStream, accepted int, limit time.Duration) (time.Duration, bool) {
	streams := []string{"QUALITY_RAW_READINGS_V1", "QUALITY_CLEAN_READINGS_V1", "QUALITY_SENSOR_FAULTS_V1",
		"QUALITY_MACHINE_HEALTH_V1", "SCHEDULING_SERVICE_JOBS_V1"}
	msgs := func() []uint64 {
		out := make([]uint64, len(streams))
		for i, name := range streams {
			if s, err := js.Stream(ctx, name); err == nil {
				out[i] = s.CachedInfo().State.Msgs
			}
		}
		return out
	}
	start := time.Now()
	deadline := start.Add(limit)
	last, since := msgs(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
		now := msgs()
		if fmt.Sprint(now) != fmt.Sprint(last) {
			last, since = now, time.Now()
			continue
		}
		if now[0] >= uint64(accepted) && now[1] >= uint64(accepted) && time.Since(since) >= 5*time.Second {
			return since.Sub(start), true
		}
	}
	return time.Since(start), false
}

func dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("chaos: dial %s: %w", addr, err)
	}
	return conn, nil
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// replication says how many of the cluster's streams (products, the edge's ingest stream, work
// streams, key-value buckets) keep three copies, and names those that keep fewer.
func replication(ctx context.Context, js jetstream.JetStream) string {
	var all int
	var fewer []string
	l := js.ListStreams(ctx)
	for si := range l.Info() {
		all++
		if si.Config.Replicas < 3 {
			fewer = append(fewer, fmt.Sprintf("%s (R%d)", si.Config.Name, si.Config.Replicas))
		}
	}
	if err := l.Err(); err != nil {
		return fmt.Sprintf("replication: streams not listed: %v", err)
	}
	if len(fewer) == 0 {
		return fmt.Sprintf("replication: all %d streams R3", all)
	}
	slices.Sort(fewer)
	return fmt.Sprintf("replication: %d of %d streams R3; fewer copies: %s", all-len(fewer), all, strings.Join(fewer, ", "))
}
