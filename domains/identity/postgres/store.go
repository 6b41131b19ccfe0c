// Package postgres is identity's store: accounts, credentials, TOTP secrets and recovery
// codes, signing keys, refresh tokens, service accounts, grants, the audit log and
// idempotency keys, in Postgres through pgx.
//
// Secrets identity must read back (TOTP secrets, private signing keys, idempotent responses
// carrying one-time passwords) are sealed with the key-encryption key (package kek); passwords
// are argon2id hashes and every opaque token or secret a SHA-256. Every change of an account
// enqueues its identity.users.v1 events through platform/outbox in the same transaction, and
// every mutation writes its audit entry in that transaction too.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/kek"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/migrate"
	"meshwork.dev/platform/outbox"
)

//go:embed migrations/*.sql
var migrations embed.FS

// EventFunc builds the event announcing change c of u (stream.Message).
type EventFunc func(ctx context.Context, u *user.User, c user.Change) (*nats.Msg, error)

// Store is identity's Postgres store. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	kek    *kek.Key
	events EventFunc
	now    func() time.Time
}

// New returns a Store over pool that seals secrets with key and builds user events with
// events.
func New(pool *pgxpool.Pool, key *kek.Key, events EventFunc) *Store {
	return &Store{pool: pool, kek: key, events: events, now: Now}
}

// Now is the store's clock: the current time in UTC at the database's microsecond precision,
// so that values read back equal the values written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Ping checks the connection, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Migrate applies the embedded migrations not yet applied, in order, each recorded in
// schema_migrations, then the outbox's tables. It is idempotent and safe from several
// processes at once (platform/migrate holds an advisory lock).
func (s *Store) Migrate(ctx context.Context) error {
	const op = "postgres.Store.Migrate"
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return errs.Wrap(op, err)
	}
	if err := migrate.Apply(ctx, s.pool, "identity", sub); err != nil {
		return dbError(op, err)
	}
	return errs.Wrap(op, outbox.Migrate(ctx, s.pool))
}

// inTx runs fn in a transaction and maps its error.
func (s *Store) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return dbError(op, pgx.BeginFunc(ctx, s.pool, fn))
}

// writeAudit inserts entries inside tx.
func writeAudit(ctx context.Context, tx pgx.Tx, entries ...audit.Entry) error {
	for _, e := range entries {
		details, err := json.Marshal(e.Details)
		if err != nil {
			return err
		}
		if e.Details == nil {
			details = []byte("{}")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (at, action, actor_id, subject_id, source, details)
VALUES ($1, $2, $3, $4, $5, $6)`, e.At, string(e.Action), e.ActorID, e.SubjectID, e.Source, details); err != nil {
			return err
		}
	}
	return nil
}

// Audit records entries on their own, for events that change nothing else (sign-ins).
func (s *Store) Audit(ctx context.Context, entries ...audit.Entry) error {
	return s.inTx(ctx, "postgres.Store.Audit", func(tx pgx.Tx) error { return writeAudit(ctx, tx, entries...) })
}

// AuditEntries returns the newest limit entries about subjectID (every subject when empty),
// newest first.
func (s *Store) AuditEntries(ctx context.Context, subjectID string, limit int) ([]audit.Entry, error) {
	const op = "postgres.Store.AuditEntries"
	rows, err := s.pool.Query(ctx, `SELECT at, action, actor_id, subject_id, source, details FROM audit_log
WHERE $1 = '' OR subject_id = $1 ORDER BY id DESC LIMIT $2`, subjectID, limit)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Entry, error) {
		var e audit.Entry
		var action string
		err := r.Scan(&e.At, &action, &e.ActorID, &e.SubjectID, &e.Source, &e.Details)
		e.Action = audit.Action(action)
		return e, err
	})
	return out, dbError(op, err)
}

// enqueueChanges writes one event per change u recorded.
func (s *Store) enqueueChanges(ctx context.Context, tx pgx.Tx, u *user.User) error {
	for _, c := range u.Changes() {
		msg, err := s.events(ctx, u, c)
		if err != nil {
			return err
		}
		if err := outbox.Enqueue(ctx, tx, msg); err != nil {
			return err
		}
	}
	return nil
}

// dbError classifies a database error: no rows is NotFound, a unique violation Conflict, a
// foreign-key violation NotFound, a lost connection Unavailable; errs errors keep their kind.
func dbError(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return errs.Wrap(op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &errs.Error{Op: op, Kind: errs.NotFound, Msg: "not found", Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return &errs.Error{Op: op, Kind: errs.Conflict, Msg: conflictMessage(pgErr.ConstraintName), Err: err}
		case "23503":
			return &errs.Error{Op: op, Kind: errs.NotFound, Msg: "the referenced account does not exist", Err: err}
		}
		return &errs.Error{Op: op, Kind: errs.Internal, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return &errs.Error{Op: op, Kind: errs.Unavailable, Msg: "database unavailable", Err: err}
	}
	return &errs.Error{Op: op, Kind: errs.Internal, Err: err}
}

// conflictMessage says which unique thing already exists.
func conflictMessage(constraint string) string {
	switch constraint {
	case "users_email_key":
		return "an account with this email already exists"
	case "users_name_key", "service_accounts_client_id_key":
		return "a service account with this name already exists"
	}
	return "already exists"
}

// orZero reads a nullable timestamp column: NULL is the zero time.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
