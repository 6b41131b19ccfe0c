package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/platform/errs"
)

// crashError is an AfterPublish failure: the batch is abandoned and Run returns.
type crashError struct {
	eventID string
	err     error
}

func (e *crashError) Error() string {
	return fmt.Sprintf("after publishing %s: %v", e.eventID, e.err)
}

func (e *crashError) Unwrap() error { return e.err }

// Run relays events until ctx is cancelled, then finishes the current batch (publishes
// already begun are awaited and recorded, no new one starts), commits it, and returns nil.
// Database and NATS failures do not stop it: they are logged, recorded and retried. It
// returns an error only when the AfterPublish hook fails, or when Run is already running on
// r (an errs.FailedPrecondition error).
//
// Run wakes on the outbox table's notifications, listened for on a connection of its own
// opened with the pool's settings, and looks every PollInterval regardless. While it runs, the
// relay's counters and its table's backlog are exported as metrics (RelayConfig.MeterProvider):
// outbox.events.published, .duplicates, outbox.publish.failures, outbox.events.parked and the
// gauges outbox.backlog.pending, .retrying, .parked and .oldest_age (seconds), labelled
// outbox.table.
func (r *Relay) Run(ctx context.Context) error {
	const op = "outbox.Relay.Run"
	if !r.running.CompareAndSwap(false, true) {
		return errs.E(op, errs.FailedPrecondition, "the relay is already running")
	}
	defer r.running.Store(false)
	if unregister, err := r.registerMetrics(r.cfg.meterProvider()); err != nil {
		r.cfg.Logger.WarnContext(ctx, "outbox relay: metrics not exported", "table", r.table, "error", err)
	} else {
		defer func() { _ = unregister() }()
	}

	wake := make(chan struct{}, 1)
	lctx, stopListening := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.listen(lctx, wake) })
	defer func() { stopListening(); wg.Wait() }()

	var lastPark time.Time
	for ctx.Err() == nil {
		if time.Since(lastPark) >= r.cfg.PollInterval {
			r.park(ctx)
			lastPark = time.Now()
		}
		n, err := r.batch(ctx)
		if crash := (*crashError)(nil); errors.As(err, &crash) {
			return errs.Wrap(op, err)
		}
		if err != nil && ctx.Err() == nil {
			r.stats.dbErrors.Add(1)
			r.cfg.Logger.WarnContext(ctx, "outbox relay: batch failed", "table", r.table, "error", err)
		}
		if err == nil && n == r.cfg.BatchSize {
			continue // a full batch: there may be more right away
		}
		sleep(ctx, wake, r.cfg.PollInterval)
	}
	return nil
}

// sleep waits for a wake-up, d, or ctx, whichever comes first.
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}

// batch claims, publishes and records one batch and returns how many rows it handled. The
// transaction outlives a cancellation of ctx, bounded by ClaimTimeout, so that what was
// published is recorded.
func (r *Relay) batch(ctx context.Context) (int, error) {
	start := time.Now()
	bctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), start.Add(r.cfg.ClaimTimeout))
	defer cancel()
	tx, err := r.pool.Begin(bctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(bctx) }() // after Commit, a no-op
	rows, err := r.claim(bctx, tx)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	outcomes, err := r.publishAll(ctx, bctx, start, rows)
	if err != nil {
		return 0, err
	}
	if err := r.record(bctx, tx, rows, outcomes); err != nil {
		return 0, err
	}
	if err := tx.Commit(bctx); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	r.count(rows, outcomes)
	return len(rows), nil
}

// row is one claimed outbox row.
type row struct {
	seq      int64
	id       string
	subject  string
	headers  []byte
	payload  []byte
	attempts int
}

// claim locks the batch's rows inside tx, oldest first.
func (r *Relay) claim(ctx context.Context, tx pgx.Tx) ([]row, error) {
	b := &pgx.Batch{}
	b.Queue(r.q.setTimeout)
	b.Queue(r.q.claim, r.cfg.BatchSize, (r.cfg.DuplicateWindow - r.cfg.Horizon()).Seconds())
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	if _, err := res.Exec(); err != nil {
		return nil, fmt.Errorf("set timeout: %w", err)
	}
	q, err := res.Query()
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	rows, err := pgx.CollectRows(q, func(q pgx.CollectableRow) (row, error) {
		var w row
		err := q.Scan(&w.seq, &w.id, &w.subject, &w.headers, &w.payload, &w.attempts)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return rows, res.Close()
}

// record writes the batch's outcomes inside tx: published rows marked, failed rows given
// their attempt, error and retry time. Rows without an outcome stay as they were.
func (r *Relay) record(ctx context.Context, tx pgx.Tx, rows []row, outcomes []outcome) error {
	b := &pgx.Batch{}
	var done []int64
	for i, o := range outcomes {
		switch {
		case !o.tried:
		case o.err == nil:
			done = append(done, rows[i].seq)
		default:
			retry := r.cfg.backoff(rows[i].attempts + 1)
			b.Queue(r.q.failed, rows[i].seq, o.err.Error(), retry.Seconds(), o.inDoubt)
		}
	}
	if len(done) > 0 {
		b.Queue(r.q.published, done)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	return nil
}

// count adds a committed batch to the stats and logs its failures.
func (r *Relay) count(rows []row, outcomes []outcome) {
	r.stats.batches.Add(1)
	for i, o := range outcomes {
		switch {
		case !o.tried:
		case o.err == nil:
			r.stats.published.Add(1)
			if o.duplicate {
				r.stats.duplicates.Add(1)
			}
		default:
			r.stats.failed.Add(1)
			r.cfg.Logger.Warn("outbox relay: publish failed, will retry",
				"event_id", rows[i].id, "subject", rows[i].subject, "attempts", rows[i].attempts+1,
				"in_doubt", o.inDoubt, "error", o.err)
		}
	}
}

// park marks the events that can no longer be re-published inside the duplicate window and
// logs each one; they stay in the table, unpublished, until Requeue.
func (r *Relay) park(ctx context.Context) {
	q, err := r.pool.Query(ctx, r.q.park, (r.cfg.DuplicateWindow - r.cfg.Horizon()).Seconds())
	if err != nil {
		if ctx.Err() == nil {
			r.cfg.Logger.WarnContext(ctx, "outbox relay: park check failed", "error", err)
		}
		return
	}
	var id, subject, lastErr string
	var attempts int
	_, err = pgx.ForEachRow(q, []any{&id, &subject, &attempts, &lastErr}, func() error {
		r.stats.parked.Add(1)
		r.cfg.Logger.ErrorContext(ctx, "outbox relay: event parked: a publish went unanswered and a retry "+
			"could fall outside the stream's duplicate window; it stays unpublished until outbox.Requeue",
			"event_id", id, "subject", subject, "attempts", attempts, "last_error", lastErr)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		r.cfg.Logger.WarnContext(ctx, "outbox relay: park check failed", "error", err)
	}
}

// listen signals wake on every notification for the outbox table, reconnecting after a
// failure, until ctx is done. Polling covers the gaps.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		r.cfg.Logger.WarnContext(ctx, "outbox relay: LISTEN connection failed, polling meanwhile", "error", err)
		sleep(ctx, nil, r.cfg.PollInterval)
	}
}

func (r *Relay) listenOnce(ctx context.Context, wake chan<- struct{}) error {
	conn, err := pgx.ConnectConfig(ctx, r.pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, r.q.listen); err != nil {
		return err
	}
	signal(wake) // events may have arrived while nobody listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal(wake)
	}
}

// signal wakes Run without blocking; one pending wake-up is enough.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}
