package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/platform/errs"
)

// Processed records in tx that consumer handled eventID and reports whether this is the first
// time. A handler calls it in the transaction that holds its own database work and skips the
// work when first is false; the record and the work then commit or roll back together, so an
// event redelivered by JetStream (or published twice) changes the database once.
//
// When two transactions record the same pair at once, the second waits for the first: it gets
// false if the first commits and true if the first rolls back. Empty arguments are an
// errs.Invalid error.
func (t Tables) Processed(ctx context.Context, tx pgx.Tx, consumer, eventID string) (first bool, err error) {
	const op = "outbox.Processed"
	n, err := t.resolve()
	if err != nil {
		return false, errs.Errorf(op, errs.Invalid, "%w", err)
	}
	var v []errs.Violation
	if consumer == "" {
		v = append(v, errs.Violation{Field: "consumer", Description: "is required"})
	}
	if eventID == "" {
		v = append(v, errs.Violation{Field: "event_id", Description: "is required"})
	}
	if len(v) > 0 {
		return false, errs.BadRequest(op, v...)
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf(
		`INSERT INTO %s (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, n.inbox),
		consumer, eventID)
	if err != nil {
		return false, errs.Wrap(op, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Processed records the event in the default inbox table; see Tables.Processed.
func Processed(ctx context.Context, tx pgx.Tx, consumer, eventID string) (first bool, err error) {
	return Tables{}.Processed(ctx, tx, consumer, eventID)
}

// Prune deletes inbox records processed more than olderThan ago and returns how many it
// deleted. After pruning, a redelivery of such an event is no longer recognised, so olderThan
// must exceed the longest time an event can still arrive: the stream's retention when
// consumers may replay it, else the consumer's redelivery span.
func (t Tables) Prune(ctx context.Context, db DB, olderThan time.Duration) (int64, error) {
	const op = "outbox.Prune"
	n, err := t.resolve()
	if err != nil {
		return 0, errs.Errorf(op, errs.Invalid, "%w", err)
	}
	if olderThan < 0 {
		return 0, errs.E(op, errs.Invalid, "olderThan must not be negative")
	}
	tag, err := db.Exec(ctx, fmt.Sprintf(
		`DELETE FROM %s WHERE processed_at < now() - make_interval(secs => $1)`, n.inbox),
		olderThan.Seconds())
	if err != nil {
		return 0, errs.Wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// Prune prunes the default inbox table; see Tables.Prune.
func Prune(ctx context.Context, db DB, olderThan time.Duration) (int64, error) {
	return Tables{}.Prune(ctx, db, olderThan)
}
