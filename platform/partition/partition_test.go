package partition_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/partition"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// waitLimit keeps a broken test from hanging; no test asserts on durations.
const waitLimit = 30 * time.Second

var seq atomic.Int64

// fast is a configuration whose takeover takes about 1.5 s.
func fast(replica string, partitions int) partition.Config {
	return partition.Config{
		ConsumerDomain: "quality", Partitions: partitions, Replica: replica,
		AckWait: time.Second, Heartbeat: 100 * time.Millisecond, Lease: 1500 * time.Millisecond,
		FetchWait: 200 * time.Millisecond, Backoff: []time.Duration{100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

type env struct {
	t    testing.TB
	ctx  context.Context
	nats *testinfra.NATS
	js   jetstream.JetStream
	p    dataproduct.Product
	pub  *dataproduct.Publisher
}

func setup(t testing.TB) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*waitLimit)
	t.Cleanup(cancel)
	n := testinfra.StartNATS(t)
	p := dataproduct.Product{
		Domain: "test", Name: "readings-" + strconv.FormatInt(seq.Add(1), 10), Major: 1, Owner: "platform-team",
		Message: &wrapperspb.StringValue{}, Classification: dataproduct.ClassInternal,
	}
	js := n.JetStream(t)
	if _, err := dataproduct.Provision(ctx, js, p); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	pub, err := dataproduct.NewPublisher(js, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	return &env{t: t, ctx: ctx, nats: n, js: js, p: p, pub: pub}
}

// publish sends count events spread over keys, value "<key>/<i>", i counting per key from 0.
func (e *env) publish(keys, count int, from int) {
	e.t.Helper()
	for i := from; i < from+count; i++ {
		key := "machine-" + strconv.Itoa(i%keys)
		if _, err := e.pub.Publish(e.ctx, key, wrapperspb.String(key+"/"+strconv.Itoa(i/keys))); err != nil {
			e.t.Fatalf("Publish: %v", err)
		}
	}
}

// recorder collects what the replicas handled.
type recorder struct {
	mu       sync.Mutex
	seen     map[string]int            // event id -> handlings
	last     map[string]int            // key -> last index handled
	disorder []string                  // keys seen out of order
	wrong    []string                  // events handled outside their partition
	by       map[string]map[int]string // replica -> partition -> "" (partitions that handled events)
}

func newRecorder() *recorder {
	return &recorder{seen: map[string]int{}, last: map[string]int{}, by: map[string]map[int]string{}}
}

// handler records ev for replica; it blocks while block is non-nil and open.
func (r *recorder) handler(replica string, partitions int, block <-chan struct{}) dataproduct.Handler {
	return func(ctx context.Context, ev *dataproduct.Event) error {
		if block != nil {
			select {
			case <-block:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		part, _ := partition.FromContext(ctx)
		v := ev.Message.(*wrapperspb.StringValue).GetValue()
		key := ev.Key
		idx, err := strconv.Atoi(strings.TrimPrefix(v, key+"/"))
		if err != nil {
			return dataproduct.Permanent(fmt.Errorf("value %q is not %s/<index>", v, key))
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.seen[ev.ID] == 0 {
			if last, ok := r.last[key]; ok && idx != last+1 || !ok && idx != 0 {
				r.disorder = append(r.disorder, fmt.Sprintf("%s: %d after %d", key, idx, last))
			}
			r.last[key] = idx
		}
		r.seen[ev.ID]++
		if partition.Of(ev.Key, partitions) != part {
			r.wrong = append(r.wrong, ev.Key)
		}
		if r.by[replica] == nil {
			r.by[replica] = map[int]string{}
		}
		r.by[replica][part] = ""
		return nil
	}
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) join(js jetstream.JetStream, cfg partition.Config, h dataproduct.Handler) *partition.Group {
	e.t.Helper()
	g, err := partition.Join(e.ctx, js, e.p, cfg, h)
	if err != nil {
		e.t.Fatalf("Join(%s): %v", cfg.Replica, err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = g.Leave(ctx)
	})
	return g
}

// exclusive reports whether every partition is held by exactly one of gs.
func exclusive(partitions int, gs ...*partition.Group) bool {
	count := make([]int, partitions)
	for _, g := range gs {
		for _, p := range g.Owned() {
			count[p]++
		}
	}
	for _, c := range count {
		if c != 1 {
			return false
		}
	}
	return true
}

func TestTwoReplicasSplitPartitionsAndKeepKeyOrder(t *testing.T) {
	t.Parallel()
	const parts, keys, events = 8, 20, 400
	e := setup(t)
	rec := newRecorder()
	var assigned, revoked sync.Map
	hooks := func(cfg partition.Config) partition.Config {
		// A graceful handover does not wait for leases; a long one keeps a replica starved of
		// CPU (a loaded CI machine) from losing a claim, which is not the case under test.
		cfg.Lease = 10 * time.Second
		cfg.OnAssigned = func(_ context.Context, p int) error { assigned.Store(cfg.Replica+strconv.Itoa(p), true); return nil }
		cfg.OnRevoked = func(_ context.Context, p int) error { revoked.Store(cfg.Replica+strconv.Itoa(p), true); return nil }
		return cfg
	}
	a := e.join(e.js, hooks(fast("a", parts)), rec.handler("a", parts, nil))
	waitFor(t, "a owns all", func() bool { return len(a.Owned()) == parts })
	e.publish(keys, events/2, 0)
	b := e.join(e.nats.JetStream(t), hooks(fast("b", parts)), rec.handler("b", parts, nil))
	waitFor(t, "a and b split the partitions", func() bool {
		return len(a.Owned()) == parts/2 && len(b.Owned()) == parts/2 && exclusive(parts, a, b)
	})
	e.publish(keys, events/2, events/2)
	waitFor(t, "every event handled", func() bool { return rec.distinct() == events })

	if !exclusive(parts, a, b) {
		t.Errorf("partitions not held exactly once: a %v, b %v", a.Owned(), b.Owned())
	}
	want := partition.Assign([]string{"a", "b"}, parts)
	if !slices.Equal(a.Owned(), want["a"]) || !slices.Equal(b.Owned(), want["b"]) {
		t.Errorf("a owns %v, b %v; want %v", a.Owned(), b.Owned(), want)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.disorder) > 0 {
		t.Errorf("per-key order broken: %v", rec.disorder)
	}
	if len(rec.wrong) > 0 {
		t.Errorf("events handled in another partition than Of(key): %v", rec.wrong)
	}
	for _, p := range b.Owned() {
		if _, ok := revoked.Load("a" + strconv.Itoa(p)); !ok {
			t.Errorf("a handed partition %d to b without OnRevoked", p)
		}
		if _, ok := assigned.Load("b" + strconv.Itoa(p)); !ok {
			t.Errorf("b took partition %d without OnAssigned", p)
		}
	}
}

func TestCrashedReplicaIsTakenOverWithoutLoss(t *testing.T) {
	t.Parallel()
	const parts, keys, events = 4, 12, 200
	e := setup(t)
	rec := newRecorder()
	a := e.join(e.js, fast("a", parts), rec.handler("a", parts, nil))
	waitFor(t, "a owns all", func() bool { return len(a.Owned()) == parts })
	// b's handler never returns: it fetches and holds events without acking them.
	bconn := e.nats.Connect(t)
	bjs, err := jetstream.New(bconn)
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	var held atomic.Int64
	bh := func(ctx context.Context, ev *dataproduct.Event) error { held.Add(1); <-hold; return nil }
	b, err := partition.Join(e.ctx, bjs, e.p, fast("b", parts), bh)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b owns its share", func() bool { return len(b.Owned()) == parts/2 && exclusive(parts, a, b) })
	e.publish(keys, events, 0)
	waitFor(t, "b holds an unacked event", func() bool { return held.Load() > 0 })
	bOwned := b.Owned()
	bconn.Close() // the crash: no acks, no release, no leave
	defer close(hold)
	waitFor(t, "a takes over b's partitions", func() bool { return len(a.Owned()) == parts })
	waitFor(t, "every event handled", func() bool { return rec.distinct() == events })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.disorder) > 0 {
		t.Errorf("per-key order broken across the takeover: %v", rec.disorder)
	}
	for _, p := range bOwned {
		if _, ok := rec.by["a"][p]; !ok {
			t.Errorf("a never handled b's partition %d", p)
		}
	}
}

func TestLeaveHandsPartitionsOver(t *testing.T) {
	t.Parallel()
	const parts = 6
	e := setup(t)
	rec := newRecorder()
	a := e.join(e.js, fast("a", parts), rec.handler("a", parts, nil))
	b := e.join(e.nats.JetStream(t), fast("b", parts), rec.handler("b", parts, nil))
	waitFor(t, "split", func() bool { return len(a.Owned()) == parts/2 && exclusive(parts, a, b) })
	if err := b.Leave(e.ctx); err != nil {
		t.Fatal(err)
	}
	if len(b.Owned()) != 0 {
		t.Errorf("b still owns %v after Leave", b.Owned())
	}
	waitFor(t, "a owns all after b left", func() bool { return len(a.Owned()) == parts })
	e.publish(5, 50, 0)
	waitFor(t, "every event handled", func() bool { return rec.distinct() == 50 })
}

// TestLeaveReleasesPartitionsTogether: Leave releases every partition at once, so a stopping
// replica waits for its slowest partition, not for all of them in turn. Each OnRevoked waits
// for all the others to have started; one after another, the first would wait in vain.
func TestLeaveReleasesPartitionsTogether(t *testing.T) {
	t.Parallel()
	const parts = 8
	e := setup(t)
	var started sync.WaitGroup
	started.Add(parts)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	var alone atomic.Int32
	cfg := fast("a", parts)
	cfg.OnRevoked = func(ctx context.Context, p int) error {
		started.Done()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
			alone.Add(1)
		}
		return nil
	}
	rec := newRecorder()
	a := e.join(e.js, cfg, rec.handler("a", parts, nil))
	waitFor(t, "a owns all", func() bool { return len(a.Owned()) == parts })
	if err := a.Leave(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := alone.Load(); n > 0 {
		t.Errorf("%d of %d partitions were released while the others were not: Leave released them one after another", n, parts)
	}
}

func TestOfMatchesServerPartition(t *testing.T) {
	t.Parallel()
	const parts = 7
	e := setup(t)
	got := map[string]int{}
	var mu sync.Mutex
	h := func(ctx context.Context, ev *dataproduct.Event) error {
		p, ok := partition.FromContext(ctx)
		if !ok {
			return dataproduct.Permanent(fmt.Errorf("no partition in context"))
		}
		mu.Lock()
		got[ev.Key] = p
		mu.Unlock()
		return nil
	}
	e.join(e.js, fast("a", parts), h)
	e.publish(50, 50, 0)
	waitFor(t, "all keys", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 50 })
	used := map[int]bool{}
	for k, p := range got {
		used[p] = true
		if want := partition.Of(k, parts); p != want {
			t.Errorf("key %s: server partition %d, Of %d", k, p, want)
		}
	}
	if len(used) != parts {
		t.Errorf("50 keys used %d of %d partitions", len(used), parts)
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	e := setup(t)
	h := func(context.Context, *dataproduct.Event) error { return nil }
	cases := map[string]func(*partition.Config){
		"Partitions":     func(c *partition.Config) { c.Partitions = 0 },
		"ConsumerDomain": func(c *partition.Config) { c.ConsumerDomain = "Bad Name" },
		"Replica":        func(c *partition.Config) { c.Replica = "a.b" },
		"Lease":          func(c *partition.Config) { c.Lease = c.AckWait },
	}
	for field, mutate := range cases {
		cfg := fast("a", 4)
		mutate(&cfg)
		_, err := partition.Join(e.ctx, e.js, e.p, cfg, h)
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: got %v, want an Invalid error", field, err)
			continue
		}
		if vs := errs.Violations(err); len(vs) != 1 || vs[0].Field != field {
			t.Errorf("%s: violations %v", field, vs)
		}
	}
	g := e.join(e.js, fast("a", 4), h)
	_ = g
	if _, err := partition.Join(e.ctx, e.js, e.p, fast("b", 5), h); !errs.Is(err, errs.FailedPrecondition) {
		t.Errorf("joining a 4-partition group with 5: got %v, want FailedPrecondition", err)
	}
}

// TestClaimWhoseReplyWasLostIsKept: a claim stored under this replica's name that the replica
// does not know of (its create timed out after the server stored it) is taken up at once, not
// left to expire.
func TestClaimWhoseReplyWasLostIsKept(t *testing.T) {
	t.Parallel()
	const parts = 4
	e := setup(t)
	cfg := fast("a", parts)
	cfg.Lease = time.Minute // longer than waitLimit: an orphaned claim would outlast the test
	kv, err := e.js.CreateKeyValue(e.ctx, jetstream.KeyValueConfig{
		Bucket: "PT_" + e.p.DurableName(cfg.ConsumerDomain), TTL: cfg.Lease, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(e.ctx, "owner.2", []byte("a")); err != nil {
		t.Fatal(err)
	}
	a := e.join(e.js, cfg, newRecorder().handler("a", parts, nil))
	waitFor(t, "a owns all, its orphaned claim included", func() bool { return len(a.Owned()) == parts })
}
