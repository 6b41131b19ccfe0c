// Package postgres is the catalog's registry on Postgres: the current descriptor of every
// product with the columns lists filter on and a full-text search document, every revision's
// descriptor, and the change events, enqueued in the transactional outbox with each change.
//
// Migrate applies the embedded migrations (and the outbox's tables). Register serialises
// registrations of one product with a transaction-scoped advisory lock on its name, which
// also covers a name not registered yet, and reads the current row FOR UPDATE inside it.
package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/outbox"
)

// EventFunc builds the outbox message announcing a change (changes.Message in production).
type EventFunc func(ctx context.Context, c catalog.Change) (*nats.Msg, error)

// Store is the registry on one Postgres database.
type Store struct {
	pool  *pgxpool.Pool
	event EventFunc
}

var _ catalog.Store = (*Store)(nil)

// New returns a store over pool that enqueues event's message for every change.
func New(pool *pgxpool.Pool, event EventFunc) *Store {
	return &Store{pool: pool, event: event}
}

// entryColumns are the columns scanEntry reads, in order.
const entryColumns = `descriptor, revision, fingerprint, registered_at, updated_at`

// Register implements catalog.Store.
func (s *Store) Register(ctx context.Context, name string, decide func(prev *catalog.Entry) (catalog.Change, error)) (catalog.Change, error) {
	const op = "postgres.Store.Register"
	var (
		change    catalog.Change
		decideErr error
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "meshwork.catalog.product:"+name); err != nil {
			return err
		}
		prev, err := scanEntry(tx.QueryRow(ctx, `SELECT `+entryColumns+` FROM catalog_products WHERE name = $1 FOR UPDATE`, name))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			prev = nil
		case err != nil:
			return err
		}
		if change, decideErr = decide(prev); decideErr != nil {
			return decideErr
		}
		if !change.Changed() {
			return nil
		}
		if err := save(ctx, tx, change.Entry); err != nil {
			return err
		}
		msg, err := s.event(ctx, change)
		if err != nil {
			return err
		}
		return outbox.Enqueue(ctx, tx, msg)
	})
	switch {
	case decideErr != nil:
		return catalog.Change{}, decideErr
	case err != nil:
		return catalog.Change{}, dbError(op, err)
	}
	return change, nil
}

// save upserts e's row and adds its revision, inside tx.
func save(ctx context.Context, tx pgx.Tx, e catalog.Entry) error {
	d := e.Descriptor
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		return err
	}
	var fields []string
	if p, err := schema.Load(d.GetSchema()); err == nil {
		for _, f := range p.Fields() {
			fields = append(fields, f.Path)
		}
	}
	doc := catalog.SearchDocument(d, fields)
	s := e.Summary()
	_, err = tx.Exec(ctx, `
INSERT INTO catalog_products (name, domain, owner, description, classification, has_pii, tags, message_name,
	stream, freshness_us, upstreams, revision, fingerprint, descriptor, search, registered_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
	setweight(to_tsvector('simple', $15), 'A') || setweight(to_tsvector('simple', $16), 'B') ||
	setweight(to_tsvector('simple', $17), 'C') || setweight(to_tsvector('simple', $18), 'D'), $19, $20)
ON CONFLICT (name) DO UPDATE SET
	domain = EXCLUDED.domain, owner = EXCLUDED.owner, description = EXCLUDED.description,
	classification = EXCLUDED.classification, has_pii = EXCLUDED.has_pii, tags = EXCLUDED.tags,
	message_name = EXCLUDED.message_name, stream = EXCLUDED.stream, freshness_us = EXCLUDED.freshness_us,
	upstreams = EXCLUDED.upstreams, revision = EXCLUDED.revision, fingerprint = EXCLUDED.fingerprint,
	descriptor = EXCLUDED.descriptor, search = EXCLUDED.search, updated_at = EXCLUDED.updated_at`,
		s.Name, s.Domain, s.Owner, s.Description, int32(s.Classification), s.HasPII, nonNil(s.Tags), s.MessageName,
		s.Stream, s.Freshness.Microseconds(), nonNil(d.GetUpstreams()), e.Revision, e.Fingerprint, raw,
		doc.Name, doc.Labels, doc.Description, doc.Fields, e.RegisteredAt, e.UpdatedAt)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO catalog_product_revisions (name, revision, fingerprint, descriptor, created_at)
VALUES ($1, $2, $3, $4, $5)`, s.Name, e.Revision, e.Fingerprint, raw, e.UpdatedAt)
	return err
}

// Product implements catalog.Store.
func (s *Store) Product(ctx context.Context, name string) (catalog.Entry, error) {
	const op = "postgres.Store.Product"
	e, err := scanEntry(s.pool.QueryRow(ctx, `SELECT `+entryColumns+` FROM catalog_products WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Entry{}, errs.E(op, errs.NotFound, "product "+name+" is not registered")
	}
	if err != nil {
		return catalog.Entry{}, dbError(op, err)
	}
	return *e, nil
}

// Revisions returns every revision of a product, oldest first, each with the time it was
// registered as UpdatedAt. It returns an errs.NotFound error for an unknown product.
func (s *Store) Revisions(ctx context.Context, name string) ([]catalog.Entry, error) {
	const op = "postgres.Store.Revisions"
	rows, err := s.pool.Query(ctx, `
SELECT r.descriptor, r.revision, r.fingerprint, p.registered_at, r.created_at
FROM catalog_product_revisions r JOIN catalog_products p USING (name)
WHERE name = $1 ORDER BY r.revision`, name)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Entry, error) {
		e, err := scanEntry(r)
		if err != nil {
			return catalog.Entry{}, err
		}
		return *e, nil
	})
	if err != nil {
		return nil, dbError(op, err)
	}
	if len(out) == 0 {
		return nil, errs.E(op, errs.NotFound, "product "+name+" is not registered")
	}
	return out, nil
}

// scanEntry reads the entryColumns of one row.
func scanEntry(row pgx.Row) (*catalog.Entry, error) {
	var (
		e   catalog.Entry
		raw []byte
	)
	if err := row.Scan(&raw, &e.Revision, &e.Fingerprint, &e.RegisteredAt, &e.UpdatedAt); err != nil {
		return nil, err
	}
	e.Descriptor = &platformv1.DataProductDescriptor{}
	if err := proto.Unmarshal(raw, e.Descriptor); err != nil {
		return nil, errs.Errorf("postgres.scanEntry", errs.Internal, "stored descriptor: %w", err)
	}
	e.RegisteredAt, e.UpdatedAt = e.RegisteredAt.UTC(), e.UpdatedAt.UTC()
	return &e, nil
}

// dbError classifies a database failure: an error that already has a kind keeps it, a
// statement the server refused is Internal, a cancelled call keeps its context error, and
// anything else (no connection, a network timeout) is Unavailable, which callers may retry.
func dbError(op string, err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if hasKind(err) || errors.As(err, &pgErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(op, err)
	}
	return &errs.Error{Op: op, Kind: errs.Unavailable, Msg: "the catalog database is unavailable", Err: err}
}

// hasKind reports whether an *errs.Error along err's chain sets a kind.
func hasKind(err error) bool {
	for {
		var e *errs.Error
		if !errors.As(err, &e) {
			return false
		}
		if e.Kind != 0 {
			return true
		}
		if e.Err == nil {
			return false
		}
		err = e.Err
	}
}

// nonNil makes a nil slice empty, for NOT NULL array columns.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
