package postgres

import (
	"context"
	"embed"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/outbox"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate brings the database to the current schema: the catalog's tables (the embedded
// migrations/NNNN_name.sql files not yet applied, in order, each recorded in
// catalog_schema_migrations) and the outbox's. It is idempotent and safe from several
// replicas at once: an advisory lock serialises them.
func (s *Store) Migrate(ctx context.Context) error {
	const op = "postgres.Store.Migrate"
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return errs.Wrap(op, err)
	}
	slices.Sort(files)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('meshwork.catalog.migrate'))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS catalog_schema_migrations (
	version    integer     PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		for _, f := range files {
			if err := apply(ctx, tx, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return dbError(op, err)
	}
	return errs.Wrap(op, outbox.Migrate(ctx, s.pool))
}

// apply runs one migration file inside tx unless it is recorded as applied.
func apply(ctx context.Context, tx pgx.Tx, file string) error {
	base := strings.TrimPrefix(file, "migrations/")
	prefix, _, _ := strings.Cut(base, "_")
	version, err := strconv.Atoi(prefix)
	if err != nil {
		return errs.Errorf("postgres.apply", errs.Internal, "migration %s does not start with a number", base)
	}
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM catalog_schema_migrations WHERE version = $1)`, version).Scan(&applied); err != nil || applied {
		return err
	}
	sql, err := migrations.ReadFile(file)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, string(sql)); err != nil {
		return errs.Errorf("postgres.apply", errs.Internal, "migration %s: %w", base, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO catalog_schema_migrations (version) VALUES ($1)`, version)
	return err
}
