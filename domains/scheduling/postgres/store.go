// Package postgres is scheduling's store: engineers, machine locations, jobs, assignments
// (with an exclusion constraint that forbids double booking) and decisions, with
// scheduling.service-jobs.v1 events written to the outbox in the same transaction.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/migrate"
	"meshwork.dev/platform/outbox"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is scheduling's Postgres store.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// newEngineer holds the skills, home and shifts a person gets on becoming an engineer.
	newEngineer job.Engineer
}

// SetEngineerDefaults gives every engineer who arrives from identity from now on e's skills,
// home base and shifts (none by default), until a dispatcher sets theirs. Call it before the
// consumers start.
func (s *Store) SetEngineerDefaults(e job.Engineer) { s.newEngineer = e }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, now: time.Now} }

// Pool returns the store's pool (for the outbox relay and readiness).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Migrate applies the migrations not yet applied, then the outbox's tables; safe from
// several replicas at once (platform/migrate).
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres.Store.Migrate: %w", err)
	}
	if err := migrate.Apply(ctx, s.pool, "scheduling", sub); err != nil {
		return fmt.Errorf("postgres.Store.Migrate: %w", err)
	}
	if err := outbox.Migrate(ctx, s.pool); err != nil {
		return fmt.Errorf("postgres.Store.Migrate: %w", err)
	}
	return nil
}

// inTx runs f in a transaction and maps database errors to errs kinds.
func (s *Store) inTx(ctx context.Context, op string, f func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, f)
	return dbError(op, err)
}

// Postgres error codes mapped to kinds.
const (
	uniqueViolation      = "23505"
	exclusionViolation   = "23P01"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	checkViolation       = "23514"
)

// dbError maps a database error to an errs kind: a double booking (exclusion violation), a
// serialization failure or a unique violation is a Conflict.
func dbError(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case exclusionViolation:
			return &errs.Error{Op: op, Kind: errs.Conflict, Msg: "engineer already booked in that time", Err: err}
		case serializationFailure, deadlockDetected, uniqueViolation:
			return &errs.Error{Op: op, Kind: errs.Conflict, Msg: "concurrent change", Err: err}
		case checkViolation:
			return &errs.Error{Op: op, Kind: errs.Invalid, Msg: pg.Message, Err: err}
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
