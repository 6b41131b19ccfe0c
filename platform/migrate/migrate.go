// Package migrate applies a domain's embedded SQL migrations to its Postgres database, safely
// from several replicas starting at once.
package migrate

import (
	"context"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/platform/errs"
)

// Apply runs the files NNNN_name.sql of fsys (its root) not yet recorded in the table
// schema_migrations, in name order, and records each. Everything runs in one transaction
// holding the advisory lock meshwork.<name>.migrate, so replicas started together apply
// each migration once: the later ones wait for the lock, then find every file recorded.
// A failing file leaves the database as it was.
func Apply(ctx context.Context, pool *pgxpool.Pool, name string, fsys fs.FS) error {
	op := "migrate.Apply " + name
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return errs.Wrap(op, err)
	}
	slices.Sort(files)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "meshwork."+name+".migrate"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		for _, f := range files {
			if err := apply(ctx, tx, fsys, f); err != nil {
				return err
			}
		}
		return nil
	})
	return errs.Wrap(op, err)
}

// apply runs one file inside tx unless its version is recorded.
func apply(ctx context.Context, tx pgx.Tx, fsys fs.FS, file string) error {
	prefix, _, _ := strings.Cut(file, "_")
	version, err := strconv.Atoi(prefix)
	if err != nil {
		return errs.Errorf("migrate.apply", errs.Internal, "migration %s does not start with a number", file)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, version, file)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	sql, err := fs.ReadFile(fsys, file)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, string(sql)); err != nil {
		return errs.Errorf("migrate.apply", errs.Internal, "%s: %w", file, err)
	}
	return nil
}
