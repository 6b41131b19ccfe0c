package outbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/platform/errs"
)

// Default table names, used for empty fields of Tables.
const (
	DefaultOutboxTable = "outbox_events"
	DefaultInboxTable  = "inbox_events"
)

// DB is what the table operations need from Postgres: a pgx.Tx, a *pgxpool.Pool and a
// *pgx.Conn all satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ DB = pgx.Tx(nil)
	_ DB = (*pgxpool.Pool)(nil)
	_ DB = (*pgx.Conn)(nil)
)

// Tables names the outbox and inbox tables and carries every operation on them. A name is a
// plain identifier ("outbox_events") or schema-qualified ("billing.outbox_events"); each part
// is a letter or underscore followed by letters, digits or underscores. Empty fields mean
// DefaultOutboxTable and DefaultInboxTable, so the zero Tables is the default pair that the
// package-level functions use.
type Tables struct {
	// Outbox is the outbox table. Its name, as written here, is also the LISTEN/NOTIFY
	// channel that wakes relays.
	Outbox string
	// Inbox is the inbox table.
	Inbox string
}

// names is Tables resolved: quoted identifiers ready for SQL text.
type names struct {
	outbox  string // quoted, possibly schema-qualified
	inbox   string
	outBase string // unqualified outbox name, to derive index names
	inBase  string
	channel string // NOTIFY channel (the outbox name as written)
}

// resolve validates t and returns its quoted names.
func (t Tables) resolve() (names, error) {
	out, in := t.Outbox, t.Inbox
	if out == "" {
		out = DefaultOutboxTable
	}
	if in == "" {
		in = DefaultInboxTable
	}
	oq, ob, err := quoteTable(out)
	if err != nil {
		return names{}, err
	}
	iq, ib, err := quoteTable(in)
	if err != nil {
		return names{}, err
	}
	if oq == iq {
		return names{}, fmt.Errorf("outbox and inbox tables are both %s", out)
	}
	return names{outbox: oq, inbox: iq, outBase: ob, inBase: ib, channel: out}, nil
}

// quoteTable checks name and returns it quoted for SQL, plus its unqualified last part.
func quoteTable(name string) (quoted, base string, err error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return "", "", fmt.Errorf("table name %q has more than a schema and a table", name)
	}
	for _, p := range parts {
		if !isIdent(p) {
			return "", "", fmt.Errorf("table name %q: %q is not a plain identifier", name, p)
		}
	}
	return pgx.Identifier(parts).Sanitize(), parts[len(parts)-1], nil
}

// isIdent reports whether s is a plain identifier short enough to take an index suffix.
func isIdent(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ident quotes one identifier.
func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// Migrate creates the outbox and inbox tables and their indexes if they do not exist. It is
// idempotent and safe to run from several replicas at once (an advisory lock serialises
// them). A schema-qualified table's schema must already exist.
func (t Tables) Migrate(ctx context.Context, db DB) error {
	const op = "outbox.Migrate"
	n, err := t.resolve()
	if err != nil {
		return errs.Errorf(op, errs.Invalid, "%w", err)
	}
	// Without arguments pgx sends this as one simple-protocol query, which Postgres runs as
	// one transaction: the advisory lock is held until every statement has run.
	sql := fmt.Sprintf(`
SELECT pg_advisory_xact_lock(hashtext('meshwork.outbox.migrate'));
CREATE TABLE IF NOT EXISTS %[1]s (
	seq             bigint GENERATED ALWAYS AS IDENTITY,
	event_id        text        PRIMARY KEY,
	subject         text        NOT NULL,
	headers         jsonb       NOT NULL,
	payload         bytea       NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	attempts        integer     NOT NULL DEFAULT 0,
	last_error      text,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	in_doubt_since  timestamptz,
	parked_at       timestamptz,
	published_at    timestamptz
);
CREATE INDEX IF NOT EXISTS %[2]s ON %[1]s (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS %[3]s ON %[1]s (subject, seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS %[4]s ON %[1]s (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS %[7]s ON %[1]s (in_doubt_since)
	WHERE published_at IS NULL AND parked_at IS NULL AND in_doubt_since IS NOT NULL;
CREATE TABLE IF NOT EXISTS %[5]s (
	consumer     text        NOT NULL,
	event_id     text        NOT NULL,
	processed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS %[6]s ON %[5]s (processed_at);
`, n.outbox, ident(n.outBase+"_pending"), ident(n.outBase+"_pending_subject"),
		ident(n.outBase+"_published"), n.inbox, ident(n.inBase+"_processed_at"),
		ident(n.outBase+"_in_doubt"))
	if _, err := db.Exec(ctx, sql); err != nil {
		return errs.Wrap(op, err)
	}
	return nil
}

// Migrate creates the default tables; see Tables.Migrate.
func Migrate(ctx context.Context, db DB) error { return Tables{}.Migrate(ctx, db) }

// PrunePublished deletes outbox rows published more than olderThan ago and returns how many
// it deleted. Unpublished rows are never deleted, whatever their age.
func (t Tables) PrunePublished(ctx context.Context, db DB, olderThan time.Duration) (int64, error) {
	const op = "outbox.PrunePublished"
	n, err := t.resolve()
	if err != nil {
		return 0, errs.Errorf(op, errs.Invalid, "%w", err)
	}
	if olderThan < 0 {
		return 0, errs.E(op, errs.Invalid, "olderThan must not be negative")
	}
	tag, err := db.Exec(ctx, fmt.Sprintf(
		`DELETE FROM %s WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)`,
		n.outbox), olderThan.Seconds())
	if err != nil {
		return 0, errs.Wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// Requeue makes a parked (or backing-off) event eligible for publishing again at once and
// forgets that an earlier attempt may have reached the stream. It is an operator's decision:
// when that earlier attempt did reach the stream and its duplicate window has passed, the
// stream gets the event twice, and consumers' inboxes must drop the second copy. It returns
// an errs.NotFound error when no unpublished event has that id.
func (t Tables) Requeue(ctx context.Context, db DB, eventID string) error {
	const op = "outbox.Requeue"
	n, err := t.resolve()
	if err != nil {
		return errs.Errorf(op, errs.Invalid, "%w", err)
	}
	tag, err := db.Exec(ctx, fmt.Sprintf(`UPDATE %s
SET parked_at = NULL, in_doubt_since = NULL, next_attempt_at = now()
WHERE event_id = $1 AND published_at IS NULL`, n.outbox), eventID)
	if err != nil {
		return errs.Wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return errs.E(op, errs.NotFound, "no unpublished event "+eventID)
	}
	return nil
}

// Backlog describes the unpublished events of an outbox table.
type Backlog struct {
	// Pending counts unpublished events, including those below.
	Pending int64
	// Retrying counts unpublished events with at least one failed attempt, not parked.
	Retrying int64
	// Parked counts events the relay stopped retrying because a re-publish could fall outside
	// the duplicate window; they wait for Requeue. Alert on it.
	Parked int64
	// OldestAge is the age of the oldest unpublished event (zero when there is none).
	OldestAge time.Duration
}

// Backlog counts the unpublished events; export its fields as gauges.
func (t Tables) Backlog(ctx context.Context, db DB) (Backlog, error) {
	const op = "outbox.Backlog"
	n, err := t.resolve()
	if err != nil {
		return Backlog{}, errs.Errorf(op, errs.Invalid, "%w", err)
	}
	var b Backlog
	var oldest float64
	err = db.QueryRow(ctx, fmt.Sprintf(`SELECT
	count(*),
	count(*) FILTER (WHERE attempts > 0 AND parked_at IS NULL),
	count(*) FILTER (WHERE parked_at IS NOT NULL),
	COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
FROM %s WHERE published_at IS NULL`, n.outbox)).Scan(&b.Pending, &b.Retrying, &b.Parked, &oldest)
	if err != nil {
		return Backlog{}, errs.Wrap(op, err)
	}
	b.OldestAge = time.Duration(oldest * float64(time.Second))
	return b, nil
}
