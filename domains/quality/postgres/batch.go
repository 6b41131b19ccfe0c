package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/domains/quality/pipeline"
)

// errStale fails a batch whose machine state another writer saved meanwhile: the batch is
// rolled back and applied again from the saved state.
var errStale = errors.New("stale filter state")

// Item is one raw reading of a batch.
type Item struct {
	// Machine and EventID name it; Step filters it.
	Machine, EventID string
	Step             pipeline.Step
}

// ApplyBatch applies items in order in ONE transaction: each is skipped if its event id is in
// the inbox, otherwise filtered and its events enqueued in the outbox; each touched machine's
// state is saved once at the end. One commit (one fsync) per batch instead of per reading, and
// one statement each for the inbox records and the outbox rows of the whole batch.
func (s *State) ApplyBatch(ctx context.Context, items []Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.begin(ctx, s.cache, items, nil, true)
	if err != nil {
		return err
	}
	if err := s.finish(ctx, p); err != nil {
		for _, st := range p.states { // they ran ahead of the database
			delete(s.cache, st.machine)
		}
		return err
	}
	return nil
}

// pending is a batch applied to the in-memory state inside its open transaction, its events
// published (or enqueued), waiting for the publish acks and the commit.
type pending struct {
	tx     pgx.Tx
	acks   []jetstream.PubAckFuture
	states []savedState
}

// savedState is one machine's state as it stood at the end of a batch: base is the watermark
// it was read at (-1: no row yet), applied the readings the batch added.
type savedState struct {
	machine string
	state   []byte
	base    int64
	applied int
}

// begin opens the batch's transaction, records its event ids in the inbox (one statement),
// locks the rows of the batch's machines, runs the steps of the readings seen for the first
// time on the machines' states and encodes the states as they stand after the batch. A machine
// not cached is read from the database (load locks its row); with fence a cached one has its
// row locked and checked too, and is read again if another writer saved it since (lockCached):
// the writers that may share a machine (partition owners) fence, the single pipelined consumer,
// whose cache runs ahead of its uncommitted batches, does not. With js set the derived events
// are published asynchronously (their acks are in the result); without, they are enqueued in
// the outbox in one statement. States are read from and cached in cache. On error the
// transaction is rolled back and the cached states of the batch's machines are dropped; the
// caller holds cache (s.mu for s.cache).
func (s *State) begin(ctx context.Context, cache cache, items []Item, js jetstream.JetStream, fence bool) (_ *pending, err error) {
	const op = "postgres.State.ApplyBatch"
	dirty := map[string]*cached{}
	applied := map[string]int{}
	var order []string // machines in first-touched order, for a deterministic save order
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	p := &pending{tx: tx}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			for id := range dirty {
				delete(cache, id)
			}
			err = fmt.Errorf("%s: %w", op, err)
		}
	}()
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.EventID
	}
	first, err := processedBatch(ctx, tx, InboxConsumer, ids)
	if err != nil {
		return nil, err
	}
	if fence {
		if err := lockCached(ctx, tx, cache, items); err != nil {
			return nil, err
		}
	}
	var out []*nats.Msg
	for _, it := range items {
		if !first[it.EventID] {
			continue
		}
		delete(first, it.EventID) // the same event twice in one batch is applied once
		c, ok := dirty[it.Machine]
		if !ok {
			if c, err = load(ctx, tx, cache, it.Machine); err != nil {
				return nil, err
			}
			dirty[it.Machine] = c
			order = append(order, it.Machine)
		}
		msgs, err := it.Step(c.m)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
		applied[it.Machine]++
	}
	if js != nil {
		if p.acks, err = publishAsync(js, out); err != nil {
			return nil, err
		}
	} else if err := enqueueBatch(ctx, tx, out); err != nil {
		return nil, err
	}
	for _, id := range order {
		c := dirty[id]
		raw, err := json.Marshal(c.m)
		if err != nil {
			return nil, err
		}
		p.states = append(p.states, savedState{machine: id, state: raw, base: c.applied, applied: applied[id]})
		c.applied = max(c.applied, 0) + int64(applied[id]) // ahead of the database until the commit
	}
	return p, nil
}

// lockCached locks the saved rows of the batch's machines that cache holds and drops from
// cache each one whose row moved on from the watermark cached with it (another replica saved
// the machine since: the partition was taken over while this one was stopped or cut off), so
// that load reads it again. Every step of the batch then runs on the state as last committed,
// and no other writer can save the machine before this transaction ends: a stale replica
// publishes nothing derived from its stale state (on the partitioned path the events are
// published before the commit, so checking the watermark at the save would come too late).
// Rows are locked in machine order, so two writers of overlapping batches cannot deadlock.
func lockCached(ctx context.Context, tx pgx.Tx, cache cache, items []Item) error {
	var ids []string
	for _, it := range items {
		if _, ok := cache[it.Machine]; ok && !slices.Contains(ids, it.Machine) {
			ids = append(ids, it.Machine)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT machine_id, applied FROM quality_filter_state WHERE machine_id = ANY($1) ORDER BY machine_id FOR UPDATE`, ids)
	if err != nil {
		return fmt.Errorf("lock machine states: %w", err)
	}
	saved := make(map[string]int64, len(ids))
	for rows.Next() {
		var id string
		var applied int64
		if err := rows.Scan(&id, &applied); err != nil {
			rows.Close()
			return fmt.Errorf("lock machine states: %w", err)
		}
		saved[id] = applied
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("lock machine states: %w", err)
	}
	for _, id := range ids {
		applied, ok := saved[id]
		if !ok {
			applied = -1
		}
		if cache[id].applied != applied {
			delete(cache, id) // stale: load reads the committed state
		}
	}
	return nil
}

// finish waits for the batch's publish acks, saves the states and commits. On error the
// transaction is rolled back; the caller must drop the cached states (they ran ahead of the
// database).
func (s *State) finish(ctx context.Context, p *pending) (err error) {
	const op = "postgres.State.ApplyBatch"
	defer func() {
		if err != nil {
			_ = p.tx.Rollback(context.WithoutCancel(ctx))
			err = fmt.Errorf("%s: %w", op, err)
		}
	}()
	if err := waitAcks(ctx, p.acks); err != nil {
		return err
	}
	if len(p.states) > 0 {
		b := &pgx.Batch{}
		for _, st := range p.states {
			if st.base < 0 {
				b.Queue(`INSERT INTO quality_filter_state (machine_id, state, applied) VALUES ($1, $2, $3) ON CONFLICT (machine_id) DO NOTHING`,
					st.machine, st.state, st.applied)
				continue
			}
			b.Queue(`UPDATE quality_filter_state SET state = $2, applied = applied + $3, updated_at = now() WHERE machine_id = $1 AND applied = $4`,
				st.machine, st.state, st.applied, st.base)
		}
		br := p.tx.SendBatch(ctx, b)
		for _, st := range p.states {
			tag, err := br.Exec()
			if err == nil && tag.RowsAffected() != 1 {
				err = fmt.Errorf("%w: state of machine %s moved on since it was read at %d readings (another writer)", errStale, st.machine, st.base)
			}
			if err != nil {
				_ = br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
	}
	return p.tx.Commit(ctx)
}
