package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/partition"
)

// Partitions is one replica's share of the raw → clean pipeline when several replicas run:
// raw readings are consumed through platform/partition by machine id, so each partition — and
// every machine in it — is owned by one replica at a time. Each fetch of a partition (up to
// Config.Batch readings, in stream order) is applied in one transaction as ApplyBatch does,
// publishing the derived events and waiting for their acks before the commit, and acked after
// it; partitions run side by side, each one batch at a time.
//
// State moves with the partition. The machines' filter state lives in Postgres, committed with
// every batch before its readings are acked; a replica caches the states of its partitions'
// machines, one cache per partition. OnAssigned starts the partition's cache empty, so its
// machines are read from Postgres (locking their rows) as the previous owner left them;
// OnRevoked, called after the partition's last batch was committed and acked, drops it. A
// partition lost without OnRevoked (its claim expired) is re-taken through OnAssigned, never
// from a stale cache, and a batch saves a machine only if its row still holds the watermark
// the batch read (a stale writer fails and re-reads instead of overwriting). A batch that fails
// is retried in place (dataproduct.DeliverBatch), so later readings never overtake it.
// Readings are idempotent on their event id (the inbox), so what a crashed
// owner had applied but not acknowledged is skipped, and its derived events, republished with
// the same ids, are dropped by the streams' duplicate windows.
type Partitions struct {
	state *State
	proc  *pipeline.Processor
	js    jetstream.JetStream
	group *partition.Group

	mu     sync.Mutex
	caches map[int]cache // by owned partition
}

// JoinPartitions joins this replica to quality's partitioned consumption of raw readings with
// cfg (pipeline.PartitionConfig, plus the replica's name and timings). cfg's OnAssigned and
// OnRevoked are the state's own and must be unset. ctx bounds the setup; Leave ends it.
func (s *State) JoinPartitions(ctx context.Context, js jetstream.JetStream, proc *pipeline.Processor, cfg partition.Config) (*Partitions, error) {
	const op = "postgres.JoinPartitions"
	if cfg.OnAssigned != nil || cfg.OnRevoked != nil {
		return nil, errs.BadRequest(op, errs.Violation{Field: "OnAssigned/OnRevoked", Description: "are the state's own: leave them unset"})
	}
	pt := &Partitions{state: s, proc: proc, js: js, caches: map[int]cache{}}
	cfg.OnAssigned = pt.assigned
	cfg.OnRevoked = pt.revoked
	g, err := partition.JoinBatches(ctx, js, stream.RawReadings, cfg, pt.apply)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	pt.group = g
	return pt, nil
}

// Leave hands this replica's partitions to the others (each after its current batch is
// committed and acked) and leaves the group; see partition.Group.Leave.
func (pt *Partitions) Leave(ctx context.Context) error { return pt.group.Leave(ctx) }

// Owned lists the partitions this replica holds now.
func (pt *Partitions) Owned() []int { return pt.group.Owned() }

// Replica is this replica's name in the group.
func (pt *Partitions) Replica() string { return pt.group.Replica() }

// assigned starts partition p with an empty cache: its machines' states are read from
// Postgres as the previous owner committed them.
func (pt *Partitions) assigned(_ context.Context, p int) error {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.caches[p] = cache{}
	return nil
}

// revoked drops partition p's cache. There is nothing to flush: every batch committed its
// states before its readings were acknowledged, and p's last batch has finished.
func (pt *Partitions) revoked(_ context.Context, p int) error {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	delete(pt.caches, p)
	return nil
}

// apply filters one fetch of a partition in one transaction. A reading that cannot be applied
// (unknown sensor, machine other than its key) fails the batch with a permanent error: the
// receiver then delivers the batch one reading at a time, dead-letters that reading alone and
// applies the others.
func (pt *Partitions) apply(ctx context.Context, evs []*dataproduct.Event) error {
	const op = "postgres.Partitions.apply"
	p, _ := partition.FromContext(ctx)
	pt.mu.Lock()
	cache := pt.caches[p]
	pt.mu.Unlock()
	if cache == nil {
		return errs.Errorf(op, errs.Unavailable, "partition %d is not assigned to this replica", p)
	}
	items := make([]Item, 0, len(evs))
	for _, ev := range evs {
		r, err := dataproduct.Decode[*qualityv1.RawReading](ev)
		if err != nil {
			return dataproduct.Permanent(err)
		}
		// The partition is the key's: a reading whose machine is not its key would write a
		// machine of another partition, perhaps another replica's.
		if r.GetMachineId() != ev.Key {
			return dataproduct.Permanent(fmt.Errorf("%s: reading of machine %q published on key %q", op, r.GetMachineId(), ev.Key))
		}
		if !pt.proc.Known(r) {
			return dataproduct.Permanent(fmt.Errorf("%s: unknown sensor %s on machine %s", op, r.GetSensorId(), r.GetMachineId()))
		}
		items = append(items, Item{Machine: ev.Key, EventID: ev.ID, Step: pt.proc.Step(ctx, ev.ID, r)})
	}
	pd, err := pt.state.begin(ctx, cache, items, pt.js, true)
	if err != nil {
		return err
	}
	if err := pt.state.finish(ctx, pd); err != nil {
		clear(cache) // it ran ahead of the database: read the states again
		return err
	}
	return nil
}
