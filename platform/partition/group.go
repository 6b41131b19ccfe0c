package partition

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// Group is one replica's membership in a consumer domain's partitioned consumption of a
// product. End it with Leave.
type Group struct {
	kv        jetstream.KeyValue
	cfg       Config
	names     names
	recv      *dataproduct.Receiver
	batches   bool // recv has a batch handler: hand it each fetch whole
	consumers []jetstream.Consumer

	mu    sync.Mutex
	owned map[int]*claim // partitions this replica holds

	stop chan struct{}
	done chan struct{}
}

// claim is one held partition: its claim revision and its fetch loop.
type claim struct {
	rev     uint64
	renewed time.Time
	cancel  context.CancelFunc // ends the handler contexts (lost claim)
	quit    chan struct{}      // closed to end the fetch loop after the current batch
	done    chan struct{}      // closed when the fetch loop has returned
}

// Join provisions the partitioned consumption of p by cfg.ConsumerDomain (work stream,
// partition consumers, membership bucket) and joins this replica to it, handling each event
// with h, one at a time per partition. It returns once the replica is a member; partitions are
// claimed within a heartbeat. ctx bounds the setup only.
func Join(ctx context.Context, js jetstream.JetStream, p dataproduct.Product, cfg Config, h dataproduct.Handler) (*Group, error) {
	const op = "partition.Join"
	if h == nil {
		return nil, errs.BadRequest(op, errs.Violation{Field: "handler", Description: "is required"})
	}
	return join(ctx, op, js, p, cfg, func(c dataproduct.ConsumerConfig) (*dataproduct.Receiver, error) {
		return dataproduct.NewReceiver(js, p, c, h)
	}, false)
}

// JoinBatches is Join handing h the events of each fetch of a partition together (up to
// Config.Batch, in order; dataproduct.BatchHandler): one batch at a time per partition, so a
// handler can apply a partition's events in one transaction.
func JoinBatches(ctx context.Context, js jetstream.JetStream, p dataproduct.Product, cfg Config, h dataproduct.BatchHandler) (*Group, error) {
	const op = "partition.JoinBatches"
	if h == nil {
		return nil, errs.BadRequest(op, errs.Violation{Field: "handler", Description: "is required"})
	}
	return join(ctx, op, js, p, cfg, func(c dataproduct.ConsumerConfig) (*dataproduct.Receiver, error) {
		return dataproduct.NewBatchReceiver(js, p, c, h)
	}, true)
}

func join(ctx context.Context, op string, js jetstream.JetStream, p dataproduct.Product, cfg Config,
	receiver func(dataproduct.ConsumerConfig) (*dataproduct.Receiver, error), batches bool) (*Group, error) {
	if err := p.Validate(); err != nil {
		return nil, errs.Wrap(op, err)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, errs.Wrap(op, err)
	}
	recv, err := receiver(dataproduct.ConsumerConfig{ConsumerDomain: cfg.ConsumerDomain, MaxDeliver: cfg.MaxDeliver,
		Backoff: cfg.Backoff, AckWait: cfg.AckWait, Logger: cfg.Logger})
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	n := namesOf(p, cfg.ConsumerDomain)
	consumers, kv, err := provision(ctx, js, p, n, cfg)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	g := &Group{
		kv: kv, cfg: cfg, names: n, recv: recv, batches: batches, consumers: consumers,
		owned: map[int]*claim{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	if _, err := kv.Put(ctx, memberKey(cfg.Replica), []byte(cfg.Replica)); err != nil {
		return nil, dataproduct.NATSError(op, "join as "+cfg.Replica, err)
	}
	go g.loop()
	return g, nil
}

// Replica is this replica's name.
func (g *Group) Replica() string { return g.cfg.Replica }

// Owned returns the partitions this replica holds now, in order.
func (g *Group) Owned() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]int, 0, len(g.owned))
	for p := range g.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Leave hands every partition back (finishing and acknowledging the events already fetched,
// calling OnRevoked, deleting the claim) and leaves the membership, so the other replicas take
// over within a heartbeat. It waits up to ctx; what is left unfinished is redelivered.
func (g *Group) Leave(ctx context.Context) error {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return errs.Errorf("partition.Group.Leave", errs.Unavailable, "%s: %w", g.cfg.Replica, ctx.Err())
	}
	return nil
}

func memberKey(replica string) string { return "members." + replica }
func ownerKey(part int) string        { return "owner." + strconv.Itoa(part) }

// loop refreshes membership and claims and rebalances every heartbeat until Leave.
func (g *Group) loop() {
	defer close(g.done)
	t := time.NewTicker(g.cfg.Heartbeat)
	defer t.Stop()
	for {
		g.tick()
		select {
		case <-g.stop:
			// Every partition at once: each waits for its fetch loop (up to FetchWait) and
			// its OnRevoked, so one after another a replica's stop took partitions × FetchWait.
			var wg sync.WaitGroup
			for _, p := range g.Owned() {
				wg.Go(func() { g.release(p) })
			}
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Heartbeat)
			_ = g.kv.Delete(ctx, memberKey(g.cfg.Replica))
			cancel()
			return
		case <-t.C:
		}
	}
}

// tick is one heartbeat: refresh, compute the assignment, release and claim.
func (g *Group) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Heartbeat)
	defer cancel()
	if _, err := g.kv.Put(ctx, memberKey(g.cfg.Replica), []byte(g.cfg.Replica)); err != nil {
		g.cfg.Logger.Warn("partition: heartbeat", "replica", g.cfg.Replica, "error", err)
	}
	g.renew(ctx)
	members, err := g.members(ctx)
	if err != nil {
		g.cfg.Logger.Warn("partition: membership", "replica", g.cfg.Replica, "error", err)
		return
	}
	want := Assign(members, g.cfg.Partitions)[g.cfg.Replica]
	for _, p := range g.Owned() {
		if !slices.Contains(want, p) {
			g.release(p)
		}
	}
	for _, p := range want {
		g.mu.Lock()
		_, have := g.owned[p]
		g.mu.Unlock()
		if !have {
			g.take(ctx, p)
		}
	}
}

// members lists the live replicas: those whose entry has not expired.
func (g *Group) members(ctx context.Context) ([]string, error) {
	l, err := g.kv.ListKeysFiltered(ctx, "members.*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return []string{g.cfg.Replica}, nil
		}
		return nil, err
	}
	var out []string
	for k := range l.Keys() {
		out = append(out, strings.TrimPrefix(k, "members."))
	}
	if !slices.Contains(out, g.cfg.Replica) {
		out = append(out, g.cfg.Replica)
	}
	return out, nil
}

// Assign is the assignment every replica computes from the same members: partition i goes to
// the i mod len(members)-th of the sorted members. It maps each member to its partitions.
func Assign(members []string, partitions int) map[string][]int {
	ms := slices.Clone(members)
	slices.Sort(ms)
	ms = slices.Compact(ms)
	out := make(map[string][]int, len(ms))
	if len(ms) == 0 {
		return out
	}
	for i := range partitions {
		m := ms[i%len(ms)]
		out[m] = append(out[m], i)
	}
	return out
}

// renew refreshes every held claim; a claim another replica holds now (it expired) is dropped
// at once, and one not renewed for a Lease is given up, so a replica cut off from the server
// stops consuming before a survivor starts.
func (g *Group) renew(ctx context.Context) {
	for _, p := range g.Owned() {
		g.mu.Lock()
		c := g.owned[p]
		g.mu.Unlock()
		rev, err := g.kv.Update(ctx, ownerKey(p), []byte(g.cfg.Replica), c.rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			// The revision moved on: an earlier renewal whose reply was lost (a timeout under
			// load) still landed. Only the holder writes a claim, so one naming this replica
			// is still its own.
			rev, err = g.reclaim(ctx, p)
		}
		switch {
		case err == nil:
			g.mu.Lock()
			c.rev, c.renewed = rev, time.Now()
			g.mu.Unlock()
		case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) ||
			time.Since(c.renewed) > g.cfg.Lease-g.cfg.Heartbeat:
			g.cfg.Logger.Warn("partition: claim lost", "replica", g.cfg.Replica, "partition", p, "error", err)
			g.drop(p, true)
		}
	}
}

// reclaim refreshes the claim of p if it names this replica and returns its new revision;
// jetstream.ErrKeyExists if another replica holds it.
func (g *Group) reclaim(ctx context.Context, p int) (uint64, error) {
	e, err := g.kv.Get(ctx, ownerKey(p))
	if err != nil {
		return 0, err
	}
	if string(e.Value()) != g.cfg.Replica {
		return 0, jetstream.ErrKeyExists
	}
	return g.kv.Update(ctx, ownerKey(p), []byte(g.cfg.Replica), e.Revision())
}

// take claims partition p if nobody holds it, calls OnAssigned and starts its fetch loop.
func (g *Group) take(ctx context.Context, p int) {
	rev, err := g.kv.Create(ctx, ownerKey(p), []byte(g.cfg.Replica))
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = g.reclaim(ctx, p) // a claim of this replica's left from a partition it dropped
	}
	if err != nil {
		return // held by another replica until it releases it or its claim expires
	}
	if g.cfg.OnAssigned != nil {
		if err := g.cfg.OnAssigned(ctx, p); err != nil {
			g.cfg.Logger.Warn("partition: OnAssigned failed, partition given up", "replica", g.cfg.Replica, "partition", p, "error", err)
			_ = g.kv.Delete(ctx, ownerKey(p), jetstream.LastRevision(rev))
			return
		}
	}
	hctx, cancel := context.WithCancel(context.Background())
	c := &claim{rev: rev, renewed: time.Now(), cancel: cancel, quit: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	g.owned[p] = c
	g.mu.Unlock()
	go g.fetch(hctx, p, c)
}

// release ends p's fetch loop after its current batch, calls OnRevoked and deletes the claim.
func (g *Group) release(p int) {
	c := g.drop(p, false)
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Lease)
	defer cancel()
	if g.cfg.OnRevoked != nil {
		if err := g.cfg.OnRevoked(ctx, p); err != nil {
			g.cfg.Logger.Warn("partition: OnRevoked", "replica", g.cfg.Replica, "partition", p, "error", err)
		}
	}
	g.mu.Lock()
	rev := c.rev
	g.mu.Unlock()
	if err := g.kv.Delete(ctx, ownerKey(p), jetstream.LastRevision(rev)); err != nil {
		g.cfg.Logger.Warn("partition: release", "replica", g.cfg.Replica, "partition", p, "error", err)
	}
}

// drop stops p's fetch loop — at once, cancelling its handler, if lost — and waits for it.
func (g *Group) drop(p int, lost bool) *claim {
	g.mu.Lock()
	c := g.owned[p]
	delete(g.owned, p)
	g.mu.Unlock()
	if c == nil {
		return nil
	}
	close(c.quit)
	if lost {
		c.cancel()
	}
	<-c.done
	c.cancel()
	return c
}

// fetch consumes partition p one event at a time until quit. Fetch rather than Consume: a
// fetch leaves no pull request behind at the server, so no event is delivered after the loop
// ends and the next owner's first event is the one after the last this loop handled.
func (g *Group) fetch(ctx context.Context, p int, c *claim) {
	defer close(c.done)
	idle := false
	for {
		select {
		case <-c.quit:
			return
		default:
		}
		// A full fetch waits until its batch is full: take what is there without waiting, and
		// wait (up to FetchWait) only for the first event after an empty round.
		var batch jetstream.MessageBatch
		var err error
		if idle {
			batch, err = g.consumers[p].Fetch(1, jetstream.FetchMaxWait(g.cfg.FetchWait))
		} else {
			batch, err = g.consumers[p].FetchNoWait(g.cfg.Batch)
		}
		if err != nil {
			g.cfg.Logger.Warn("partition: fetch", "consumer", g.names.consumer(p), "error", err)
			select {
			case <-c.quit:
				return
			case <-time.After(g.cfg.FetchWait):
			}
			continue
		}
		idle = true
		hctx := context.WithValue(ctx, partitionKey{}, p)
		var held []jetstream.Msg
		for msg := range batch.Messages() {
			idle = false
			switch {
			case ctx.Err() != nil: // claim lost: leave the rest to redelivery
			case g.batches:
				held = append(held, msg)
			default:
				g.recv.Deliver(hctx, msg)
			}
		}
		if len(held) > 0 {
			g.recv.DeliverBatch(hctx, held)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			g.cfg.Logger.Debug("partition: fetch", "consumer", g.names.consumer(p), "error", err)
		}
	}
}
