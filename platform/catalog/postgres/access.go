package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"meshwork.dev/platform/access"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/outbox"
)

// AccessFilter selects requests; empty fields match all.
type AccessFilter struct {
	Product, Namespace string
	State              access.State
	// Visible, when set, keeps only requests of these namespaces or of products of these
	// domains (what a non-admin caller may see).
	Namespaces, Domains []string
	Limit               int
	// After continues a page: the created_at/id of the last request seen.
	After string
}

const accessColumns = `id, product, namespace, requested_by, purpose, pii, expires_at, state, decided_by, reason, created_at, decided_at`

func scanRequest(row pgx.Row) (access.Request, error) {
	var r access.Request
	var state string
	var decided *time.Time
	err := row.Scan(&r.ID, &r.Product, &r.Namespace, &r.RequestedBy, &r.Purpose, &r.PII, &r.ExpiresAt, &state,
		&r.DecidedBy, &r.Reason, &r.CreatedAt, &decided)
	r.State = access.State(state)
	if decided != nil {
		r.DecidedAt = *decided
	}
	r.ExpiresAt, r.CreatedAt = r.ExpiresAt.UTC(), r.CreatedAt.UTC()
	return r, err
}

// CreateRequest stores a new request and enqueues its events, in one transaction.
func (s *Store) CreateRequest(ctx context.Context, r access.Request, events ...*nats.Msg) error {
	const op = "postgres.Store.CreateRequest"
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO access_requests (`+accessColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,NULL)`,
			r.ID, r.Product, r.Namespace, r.RequestedBy, r.Purpose, r.PII, r.ExpiresAt, string(r.State), r.DecidedBy, r.Reason, r.CreatedAt); err != nil {
			return err
		}
		return enqueueAll(ctx, tx, events)
	})
	return dbError(op, err)
}

func enqueueAll(ctx context.Context, tx pgx.Tx, events []*nats.Msg) error {
	for _, m := range events {
		if err := outbox.Enqueue(ctx, tx, m); err != nil {
			return err
		}
	}
	return nil
}

// Request returns one request; errs.NotFound when there is none.
func (s *Store) Request(ctx context.Context, id string) (access.Request, error) {
	const op = "postgres.Store.Request"
	r, err := scanRequest(s.pool.QueryRow(ctx, `SELECT `+accessColumns+` FROM access_requests WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return access.Request{}, errs.Errorf(op, errs.NotFound, "id: no access request %q", id)
	}
	return r, dbError(op, err)
}

// UpdateRequest stores r's new state if the stored one is still from (a concurrent decision
// wins otherwise: errs.FailedPrecondition), and enqueues events, in one transaction.
func (s *Store) UpdateRequest(ctx context.Context, r access.Request, from access.State, events ...*nats.Msg) error {
	const op = "postgres.Store.UpdateRequest"
	var lost bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE access_requests SET state = $2, decided_by = $3, reason = $4, decided_at = $5
WHERE id = $1 AND state = $6`, r.ID, string(r.State), r.DecidedBy, r.Reason, r.DecidedAt, string(from))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			lost = true
			return errors.New("lost")
		}
		return enqueueAll(ctx, tx, events)
	})
	if lost {
		return errs.Errorf(op, errs.FailedPrecondition, "id: request %s is no longer %s", r.ID, from)
	}
	return dbError(op, err)
}

// Requests lists requests matching f, newest first, and the token of the next page.
func (s *Store) Requests(ctx context.Context, f AccessFilter) ([]access.Request, string, error) {
	const op = "postgres.Store.Requests"
	q := `SELECT ` + accessColumns + ` FROM access_requests WHERE ($1 = '' OR product = $1) AND ($2 = '' OR namespace = $2)
AND ($3 = '' OR state = $3)
AND (NOT $4 OR namespace = ANY($5) OR split_part(product, '.', 1) = ANY($6))
AND ($7 = '' OR (created_at, id) < (split_part($7, '|', 1)::timestamptz, split_part($7, '|', 2)))
ORDER BY created_at DESC, id DESC LIMIT $8`
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	visible := f.Namespaces != nil || f.Domains != nil
	rows, err := s.pool.Query(ctx, q, f.Product, f.Namespace, string(f.State), visible, f.Namespaces, f.Domains, f.After, limit+1)
	if err != nil {
		return nil, "", dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (access.Request, error) { return scanRequest(r) })
	if err != nil {
		return nil, "", dbError(op, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = last.CreatedAt.Format(time.RFC3339Nano) + "|" + last.ID
	}
	return out, next, nil
}

// Grants returns the grants in force at now for namespace.
func (s *Store) Grants(ctx context.Context, namespace string, now time.Time) ([]access.Request, error) {
	const op = "postgres.Store.Grants"
	rows, err := s.pool.Query(ctx, `SELECT `+accessColumns+` FROM access_requests WHERE namespace = $1 AND state = 'approved' AND expires_at > $2
ORDER BY product`, namespace, now)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (access.Request, error) { return scanRequest(r) })
	return out, dbError(op, err)
}

// DueExpiries returns approved grants whose expiry has passed at now.
func (s *Store) DueExpiries(ctx context.Context, now time.Time) ([]access.Request, error) {
	const op = "postgres.Store.DueExpiries"
	rows, err := s.pool.Query(ctx, `SELECT `+accessColumns+` FROM access_requests WHERE state = 'approved' AND expires_at <= $1 LIMIT 500`, now)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (access.Request, error) { return scanRequest(r) })
	return out, dbError(op, err)
}

// Seed stores r, approved, unless namespace's grant of r.Product was seeded before (and
// perhaps revoked since). It reports whether it stored r.
func (s *Store) Seed(ctx context.Context, r access.Request, events ...*nats.Msg) (bool, error) {
	const op = "postgres.Store.Seed"
	var made bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO access_seeds (namespace, product) VALUES ($1, $2) ON CONFLICT DO NOTHING`, r.Namespace, r.Product)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		made = true
		if _, err := tx.Exec(ctx, `INSERT INTO access_requests (`+accessColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			r.ID, r.Product, r.Namespace, r.RequestedBy, r.Purpose, r.PII, r.ExpiresAt, string(r.State), r.DecidedBy, r.Reason, r.CreatedAt, r.DecidedAt); err != nil {
			return err
		}
		return enqueueAll(ctx, tx, events)
	})
	return made, dbError(op, err)
}
