package postgres_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// servers is a test's embedded NATS with quality's products provisioned and a Postgres with
// the state tables migrated.
type servers struct {
	nats *testinfra.NATS
	pg   *testinfra.Postgres
	js   jetstream.JetStream
	pool *pgxpool.Pool
}

func startServers(t testing.TB, ctx context.Context) servers {
	t.Helper()
	return startServersOn(t, ctx, testinfra.StartNATS(t), 0)
}

// startServersOn is startServers on n, quality's product streams with replicas copies (0: the
// products' own count).
func startServersOn(t testing.TB, ctx context.Context, n *testinfra.NATS, replicas int) servers {
	t.Helper()
	js := n.JetStream(t)
	pg := testinfra.StartPostgres(t)
	pool := pg.Pool(t)
	for _, p := range stream.Products {
		if replicas > 0 {
			p.Replicas = replicas
		}
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := postgres.New(pool).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return servers{nats: n, pg: pg, js: js, pool: pool}
}

type registry map[string]readings.Spec

func (r registry) Spec(m, s string) (readings.Spec, bool) { sp, ok := r[m+"/"+s]; return sp, ok }

// run is one life of the service: a processor over fresh durable state and an outbox relay.
type run struct {
	sub    *dataproduct.Subscription // per-event mode
	cancel context.CancelFunc
	done   chan error // relay, and the batch consumer in batch mode
	n      int
}

func start(t *testing.T, ctx context.Context, batch bool, st *postgres.State, reg registry, js jetstream.JetStream, relay *outbox.Relay) *run {
	t.Helper()
	proc := pipeline.NewProcessor(reg, st)
	rctx, cancel := context.WithCancel(ctx)
	r := &run{cancel: cancel, done: make(chan error, 2), n: 1}
	if batch {
		r.n = 2
		go func() { r.done <- st.ConsumeBatches(rctx, js, proc, postgres.BatchConfig{Size: 16}) }()
	} else {
		sub, err := proc.Subscribe(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		r.sub = sub
	}
	go func() { r.done <- relay.Run(rctx) }()
	return r
}

func (r *run) stop(t *testing.T, ctx context.Context) {
	t.Helper()
	if r.sub != nil {
		if err := r.sub.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r.cancel()
	for range r.n {
		if err := <-r.done; err != nil {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestartLosesAndDuplicatesNothing stops the service mid-stream and starts a new one with
// empty memory: every raw reading yields exactly one clean reading, and the flags are those
// of an uninterrupted offline run of the same filters.
func TestRestartLosesAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	for _, batch := range []bool{false, true} {
		t.Run(map[bool]string{false: "per-event", true: "batches"}[batch], func(t *testing.T) {
			t.Parallel()
			restart(t, batch)
		})
	}
}

func restart(t *testing.T, batch bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	srv := startServers(t, ctx)
	js, pool := srv.js, srv.pool
	reg := registry{}
	offline := readings.NewMachine("m1", readings.DefaultHealth)
	for _, id := range []string{"t1", "t2", "t3"} {
		sp := readings.Spec{ID: id, Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute}
		reg["m1/"+id] = sp
		offline.AddSensor(sp, readings.DefaultConfig(readings.Temperature))
	}
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		t.Fatal(err)
	}
	const ticks = 100
	want := map[string]int{} // sensor/time → flags of the offline run
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	// publish sends ticks [from, to) for three sensors and records the offline run's flags.
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			at := t0.Add(time.Duration(i) * time.Minute)
			for _, id := range []string{"t1", "t2", "t3"} {
				v := 40 + 0.3*rng.NormFloat64()
				if i%17 == 9 && id == "t2" {
					v += 8
				}
				r := &qualityv1.RawReading{MachineId: "m1", SensorId: id, SampledAt: timestamppb.New(at), Value: v}
				if err := pipeline.Forward(ctx, pub, r); err != nil {
					t.Fatal(err)
				}
				res, err := offline.Process(readings.Reading{Sensor: id, Time: at.UnixNano(), Value: v})
				if err != nil {
					t.Fatal(err)
				}
				want[id+at.String()] = int(res.Flags)
			}
		}
	}
	// Batches are fast enough that a stop "after a third" can come after the last one, so the
	// batch variant gets a third of the stream first and the rest while it is down; the
	// one-at-a-time variant gets it all at once and is stopped with readings in flight.
	firstPart := ticks
	if batch {
		firstPart = ticks / 3
	}
	publish(0, firstPart)
	total := int64(ticks * 3)
	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	first := postgres.New(pool)
	r1 := start(t, ctx, batch, first, reg, js, relay)
	waitFor(t, "a third of the readings", func() (bool, error) {
		n, err := first.Applied(ctx, "m1")
		return n >= min(total/3, int64(firstPart*3)), err
	})
	r1.stop(t, ctx)
	publish(firstPart, ticks) // the rest, if any, arrives while the service is down
	stopped, err := first.Applied(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if stopped >= total {
		t.Fatalf("all %d readings applied before the restart: the test restarted nothing", stopped)
	}

	second := postgres.New(pool) // a new process: no cached state
	r2 := start(t, ctx, batch, second, reg, js, relay)
	defer r2.stop(t, ctx)
	waitFor(t, "every reading applied", func() (bool, error) {
		n, err := second.Applied(ctx, "m1")
		return n == total, err
	})
	clean, err := js.Stream(ctx, stream.CleanReadings.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every clean reading relayed", func() (bool, error) {
		info, err := clean.Info(ctx)
		return err == nil && info.State.Msgs >= uint64(total), err
	})
	cons, err := js.OrderedConsumer(ctx, stream.CleanReadings.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range total {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var c qualityv1.CleanReading
		if err := proto.Unmarshal(m.Data(), &c); err != nil {
			t.Fatal(err)
		}
		if seen[c.GetSourceEventId()] {
			t.Fatalf("duplicate clean reading for %s", c.GetSourceEventId())
		}
		seen[c.GetSourceEventId()] = true
		got := 0
		for _, f := range c.GetFlags() {
			got |= 1 << (int(f) - 1)
		}
		key := c.GetSensorId() + c.GetSampledAt().AsTime().String()
		if got != want[key] {
			t.Fatalf("%s: flags %v after the restart, %v in the uninterrupted run", key, got, want[key])
		}
	}
	info, err := clean.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(total) {
		t.Fatalf("clean-readings holds %d messages for %d raw readings", info.State.Msgs, total)
	}
	t.Logf("restarted after %d of %d readings", stopped, total)
}
