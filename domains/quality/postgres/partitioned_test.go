package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
	"meshwork.dev/platform/testinfra"
)

// gated is a registry whose look-ups block while a gate is set: a replica using it stops
// inside its handler, with the readings it fetched unacknowledged.
type gated struct {
	registry
	mu   sync.Mutex
	gate chan struct{}
	hit  chan struct{}
}

func (g *gated) Spec(m, s string) (readings.Spec, bool) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case g.hit <- struct{}{}:
		default:
		}
		<-gate
	}
	return g.registry.Spec(m, s)
}

// fleet is a set of machines with two temperature sensors each, the readings published so far
// and an uninterrupted offline run of the same filters over them.
type fleet struct {
	t        *testing.T
	ctx      context.Context
	pub      *dataproduct.Publisher
	reg      registry
	machines []string
	offline  map[string]*readings.Machine
	order    map[string][]string // machine → "<sensor>@<tick>" in publish order
	flags    map[string]int      // source event id → flags of the offline run
	rng      *rand.Rand
	ticks    int
	total    int
}

func newFleet(t *testing.T, ctx context.Context, js jetstream.JetStream, machines int) *fleet {
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, ctx: ctx, pub: pub, reg: registry{}, offline: map[string]*readings.Machine{},
		order: map[string][]string{}, flags: map[string]int{}, rng: rand.New(rand.NewPCG(7, 13))}
	for i := range machines {
		m := fmt.Sprintf("m%02d", i)
		f.machines = append(f.machines, m)
		f.offline[m] = readings.NewMachine(m, readings.DefaultHealth)
		for _, id := range []string{"t1", "t2"} {
			sp := readings.Spec{ID: id, Machine: m, Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute}
			f.reg[m+"/"+id] = sp
			f.offline[m].AddSensor(sp, readings.DefaultConfig(readings.Temperature))
		}
	}
	return f
}

// publish sends n more ticks: one reading per sensor of every machine per tick, a spike on
// t2 every 17 ticks, so the flags depend on each sensor's history.
func (f *fleet) publish(n int) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := f.ticks; i < f.ticks+n; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		for _, m := range f.machines {
			for _, id := range []string{"t1", "t2"} {
				v := 40 + 0.3*f.rng.NormFloat64()
				if i%17 == 9 && id == "t2" {
					v += 8
				}
				r := &qualityv1.RawReading{MachineId: m, SensorId: id, SampledAt: timestamppb.New(at), Value: v}
				ev := fmt.Sprintf("raw-%s-%s-%d", m, id, i)
				if err := pipeline.Forward(f.ctx, f.pub, r, dataproduct.WithEventID(ev)); err != nil {
					f.t.Fatal(err)
				}
				res, err := f.offline[m].Process(readings.Reading{Sensor: id, Time: at.UnixNano(), Value: v})
				if err != nil {
					f.t.Fatal(err)
				}
				f.flags[ev] = int(res.Flags)
				f.order[m] = append(f.order[m], fmt.Sprintf("%s@%d", id, i))
				f.total++
			}
		}
	}
	f.ticks += n
}

// check reads the whole clean-readings stream: exactly one clean reading per raw reading, per
// machine in publish order, with the flags of the uninterrupted run; and each machine's saved
// state is the uninterrupted run's.
func (f *fleet) check(js jetstream.JetStream, st *postgres.State) {
	t, ctx := f.t, f.ctx
	clean, err := js.Stream(ctx, stream.CleanReadings.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every clean reading", func() (bool, error) {
		info, err := clean.Info(ctx)
		return err == nil && info.State.Msgs >= uint64(f.total), err
	})
	cons, err := js.OrderedConsumer(ctx, stream.CleanReadings.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	order := map[string][]string{}
	for range f.total {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var c qualityv1.CleanReading
		if err := proto.Unmarshal(m.Data(), &c); err != nil {
			t.Fatal(err)
		}
		id := c.GetSourceEventId()
		if seen[id] {
			t.Fatalf("duplicate clean reading for %s", id)
		}
		seen[id] = true
		got := 0
		for _, fl := range c.GetFlags() {
			got |= 1 << (int(fl) - 1)
		}
		if want, ok := f.flags[id]; !ok || got != want {
			t.Errorf("%s: flags %b, %b in the uninterrupted run (known %v)", id, got, want, ok)
		}
		tick := int(c.GetSampledAt().AsTime().Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)) / time.Minute)
		order[c.GetMachineId()] = append(order[c.GetMachineId()], fmt.Sprintf("%s@%d", c.GetSensorId(), tick))
	}
	if info, err := clean.Info(ctx); err != nil || info.State.Msgs != uint64(f.total) {
		t.Fatalf("clean-readings holds %v messages for %d raw readings (%v)", info.State.Msgs, f.total, err)
	}
	for _, m := range f.machines {
		if !slices.Equal(order[m], f.order[m]) {
			t.Errorf("machine %s: clean readings in order %v, published %v", m, order[m], f.order[m])
		}
		saved, err := st.Snapshot(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(saved)
		b, _ := json.Marshal(f.offline[m])
		if string(a) != string(b) {
			t.Errorf("machine %s: saved state differs from the uninterrupted run's", m)
		}
	}
}

// replica is one quality process: its own NATS connection, Postgres pool and state.
type replica struct {
	js  jetstream.JetStream
	st  *postgres.State
	pt  *postgres.Partitions
	reg *gated
}

func startReplica(t *testing.T, ctx context.Context, n *testinfra.NATS, pg *testinfra.Postgres, name string, parts int, reg registry) *replica {
	t.Helper()
	r := &replica{js: n.JetStream(t), st: postgres.New(pg.Pool(t)), reg: &gated{registry: reg, hit: make(chan struct{}, 1)}}
	cfg := pipeline.PartitionConfig(parts)
	cfg.Replica = name
	cfg.AckWait, cfg.Heartbeat, cfg.Lease, cfg.FetchWait = time.Second, 100*time.Millisecond, 1500*time.Millisecond, 200*time.Millisecond
	cfg.Backoff = []time.Duration{100 * time.Millisecond}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	pt, err := r.st.JoinPartitions(ctx, r.js, pipeline.NewProcessor(r.reg, r.st), cfg)
	if err != nil {
		t.Fatalf("replica %s: %v", name, err)
	}
	r.pt = pt
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = pt.Leave(ctx)
	})
	return r
}

// TestReplicasSplitMachinesAndSurviveACrash runs two replicas over one Postgres: they split the
// partitions, and every raw reading yields one clean reading, per machine in order. Then one
// replica's connection is closed while it holds fetched, unacknowledged readings: the survivor
// takes every partition over and continues each machine's filter state — nothing lost, nothing
// duplicated, per-machine order kept, flags and saved states those of an uninterrupted run.
func TestReplicasSplitMachinesAndSurviveACrash(t *testing.T) {
	t.Parallel()
	const parts, machines = 8, 12
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startServers(t, ctx)
	n, pg, admin := srv.nats, srv.pg, srv.js
	f := newFleet(t, ctx, admin, machines)
	a := startReplica(t, ctx, n, pg, "a", parts, f.reg)
	b := startReplica(t, ctx, n, pg, "b", parts, f.reg)
	waitFor(t, "a and b split the partitions", func() (bool, error) {
		oa, ob := a.pt.Owned(), b.pt.Owned()
		return len(oa) == parts/2 && len(ob) == parts/2 && !slices.ContainsFunc(oa, func(p int) bool { return slices.Contains(ob, p) }), nil
	})
	f.publish(30)
	f.check(admin, a.st)
	bMachines := 0
	for _, m := range f.machines {
		if slices.Contains(b.pt.Owned(), partition.Of(m, parts)) {
			bMachines++
		}
	}
	if bMachines == 0 || bMachines == machines {
		t.Fatalf("b owns %d of %d machines: the test splits nothing", bMachines, machines)
	}

	// b stops inside its handler with the readings it fetched; then its connection goes.
	gate := make(chan struct{})
	b.reg.mu.Lock()
	b.reg.gate = gate
	b.reg.mu.Unlock()
	f.publish(30)
	select {
	case <-b.reg.hit:
	case <-ctx.Done():
		t.Fatal("b never fetched a reading of the second round")
	}
	crashed := time.Now()
	b.js.Conn().Close()
	close(gate) // b's handler goes on against a closed connection: it can publish nothing
	waitFor(t, "a owns every partition", func() (bool, error) { return len(a.pt.Owned()) == parts, nil })
	takeover := time.Since(crashed)
	f.check(admin, a.st)
	t.Logf("takeover: a owned all %d partitions %v after b's connection closed; all %d clean readings after %v",
		parts, takeover.Round(time.Millisecond), f.total, time.Since(crashed).Round(time.Millisecond))
}
