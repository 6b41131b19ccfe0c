// Package postgres keeps the quality domain's registry (machines with their locations,
// sensors) and the pipeline's filter state in Postgres: one row per machine with its
// readings.Machine as JSON and the count of raw readings applied (the watermark); the schema
// is migrations/*.sql. The service applies raw readings in batches (ConsumeBatches), one
// transaction per batch, in a pipeline: the next batch is fetched while one is applied, and a
// batch's events are awaited and committed while the next one is filtered. In each batch the
// event ids go to the inbox in one statement (a redelivery is skipped), the filters run on each
// machine's state, the derived events (ids fixed by the raw event id) are published and
// acknowledged by JetStream before the commit, and the states are saved. A failure or crash
// before the commit leaves the state as it was: the readings are applied again, in order, to
// the same state and republish the same event ids, which the streams' duplicate window drops.
// So a restart neither loses nor duplicates a reading. BatchConfig.Outbox keeps the older
// design (events enqueued in the outbox in one statement per batch, published by a flusher and
// the platform relay), and State.Apply does one reading per transaction.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/migrate"
	"meshwork.dev/platform/outbox"
)

// migrations are applied once each, in name order (platform/migrate).
//
//go:embed migrations/*.sql
var migrations embed.FS

// InboxConsumer is the inbox name of the processor: <consumer domain>--<product>.
var InboxConsumer = pipeline.Consumer + "--" + stream.RawReadings.ID()

// State is durable filter state. It caches machines in memory and drops a machine from the
// cache when its transaction fails, so the cache never runs ahead of the database.
type State struct {
	pool  *pgxpool.Pool
	mu    sync.Mutex
	cache cache
}

// cache holds machines' states as the process last saw or made them, by machine id.
type cache map[string]*cached

// cached is one machine's state and the watermark (readings applied) it stands at; applied is
// -1 for a machine with no saved row yet. A batch saves the state only if the row still holds
// the watermark the batch started from, so a writer whose cache went stale (another replica
// took the machine's partition meanwhile) fails and re-reads instead of overwriting.
type cached struct {
	m       *readings.Machine
	applied int64
}

// New returns the state over pool.
func New(pool *pgxpool.Pool) *State {
	return &State{pool: pool, cache: cache{}}
}

// Migrate creates the outbox and inbox tables, then applies the migrations not yet applied,
// in name order; safe from replicas starting together (platform/migrate).
func (s *State) Migrate(ctx context.Context) error {
	const op = "postgres.Migrate"
	if err := (outbox.Tables{}).Migrate(ctx, s.pool); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := migrate.Apply(ctx, s.pool, "quality", sub); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Ping checks the connection, for readiness.
func (s *State) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Apply runs step on machine's state in one transaction with the inbox record, the outbox
// rows and the saved state; an event already applied is skipped.
func (s *State) Apply(ctx context.Context, machine, eventID string, step pipeline.Step) error {
	const op = "postgres.State.Apply"
	s.mu.Lock()
	defer s.mu.Unlock()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		first, err := outbox.Processed(ctx, tx, InboxConsumer, eventID)
		if err != nil || !first {
			return err
		}
		c, err := load(ctx, tx, s.cache, machine)
		if err != nil {
			return err
		}
		m := c.m
		msgs, err := step(m)
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			if err := outbox.Enqueue(ctx, tx, msg); err != nil {
				return err
			}
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO quality_filter_state (machine_id, state, applied) VALUES ($1, $2, 1)
ON CONFLICT (machine_id) DO UPDATE SET state = EXCLUDED.state, applied = quality_filter_state.applied + 1, updated_at = now()`,
			machine, raw)
		c.applied = max(c.applied, 0) + 1
		return err
	})
	if err != nil {
		delete(s.cache, machine)
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// load returns the machine cached in c, or reads it (locking its row) or starts it empty, and
// caches it.
func load(ctx context.Context, tx pgx.Tx, c cache, machine string) (*cached, error) {
	if m, ok := c[machine]; ok {
		return m, nil
	}
	var raw []byte
	applied := int64(-1)
	err := tx.QueryRow(ctx, `SELECT state, applied FROM quality_filter_state WHERE machine_id = $1 FOR UPDATE`, machine).Scan(&raw, &applied)
	var m *readings.Machine
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		m, applied = readings.NewMachine(machine, readings.DefaultHealth), -1
	case err != nil:
		return nil, err
	default:
		m = &readings.Machine{}
		if err := json.Unmarshal(raw, m); err != nil {
			return nil, fmt.Errorf("decode state of %s: %w", machine, err)
		}
	}
	c[machine] = &cached{m: m, applied: applied}
	return c[machine], nil
}

// Applied is how many raw readings were applied to machine's state (the watermark).
func (s *State) Applied(ctx context.Context, machine string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT applied FROM quality_filter_state WHERE machine_id = $1`, machine).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// Snapshot reads the committed state of machine; nil when it has none yet.
func (s *State) Snapshot(ctx context.Context, machine string) (*readings.Machine, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT state FROM quality_filter_state WHERE machine_id = $1`, machine).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres.Snapshot: %w", err)
	}
	m := &readings.Machine{}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("postgres.Snapshot %s: %w", machine, err)
	}
	return m, nil
}

// Faults lists the standing sensor faults of machine ("" for all machines).
func (s *State) Faults(ctx context.Context, machine string) ([]readings.FaultEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT state FROM quality_filter_state WHERE $1 = '' OR machine_id = $1 ORDER BY machine_id`, machine)
	if err != nil {
		return nil, fmt.Errorf("postgres.Faults: %w", err)
	}
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("postgres.Faults: %w", err)
	}
	var out []readings.FaultEvent
	for _, raw := range raws {
		var m readings.Machine
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("postgres.Faults: %w", err)
		}
		for id, st := range m.Sensors {
			if d := st.Detector; d.Faulty {
				out = append(out, readings.FaultEvent{Sensor: id, Machine: m.ID, Fault: d.Fault, Since: d.Since,
					Evidence: fmt.Sprintf("declared faulty: %s", d.Fault)})
			}
		}
	}
	return out, nil
}
