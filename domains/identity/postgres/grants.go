package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/platform/errs"
)

const grantColumns = `id, subject_id, application, scopes, expires_at, revoked_at, granted_by, created_at`

func scanGrant(row pgx.Row) (*grant.Grant, error) {
	var s grant.Snapshot
	var revoked *time.Time
	if err := row.Scan(&s.ID, &s.SubjectID, &s.Application, &s.Scopes, &s.ExpiresAt, &revoked, &s.GrantedBy, &s.CreatedAt); err != nil {
		return nil, err
	}
	s.ExpiresAt, s.CreatedAt, s.RevokedAt = s.ExpiresAt.UTC(), s.CreatedAt.UTC(), orZero(revoked)
	return grant.FromSnapshot(s), nil
}

// CreateGrant stores g; a subject that does not exist is a NotFound error.
func (s *Store) CreateGrant(ctx context.Context, g *grant.Grant, entries ...audit.Entry) error {
	return s.inTx(ctx, "postgres.Store.CreateGrant", func(tx pgx.Tx) error {
		v := g.Snapshot()
		if _, err := tx.Exec(ctx, `INSERT INTO grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)`,
			v.ID, v.SubjectID, v.Application, v.Scopes, v.ExpiresAt, v.GrantedBy, v.CreatedAt); err != nil {
			return err
		}
		return writeAudit(ctx, tx, entries...)
	})
}

// UpdateGrant applies fn to the grant with id in one transaction and saves it.
func (s *Store) UpdateGrant(ctx context.Context, id string, fn func(*grant.Grant) error, entries ...audit.Entry) (*grant.Grant, error) {
	var out *grant.Grant
	err := s.inTx(ctx, "postgres.Store.UpdateGrant", func(tx pgx.Tx) error {
		g, err := scanGrant(tx.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.E("postgres.Store.UpdateGrant", errs.NotFound, "no grant "+id)
		}
		if err != nil {
			return err
		}
		if err := fn(g); err != nil {
			return err
		}
		v := g.Snapshot()
		var revoked *time.Time
		if !v.RevokedAt.IsZero() {
			revoked = &v.RevokedAt
		}
		if _, err := tx.Exec(ctx, `UPDATE grants SET revoked_at = $2, expires_at = $3 WHERE id = $1`, id, revoked, v.ExpiresAt); err != nil {
			return err
		}
		out = g
		return writeAudit(ctx, tx, entries...)
	})
	return out, err
}

// ActiveScopes returns the sorted scopes of subjectID's grants active at now.
func (s *Store) ActiveScopes(ctx context.Context, subjectID string, now time.Time) ([]string, error) {
	const op = "postgres.Store.ActiveScopes"
	rows, err := s.pool.Query(ctx, `SELECT `+grantColumns+` FROM grants
WHERE subject_id = $1 AND revoked_at IS NULL AND expires_at > $2`, subjectID, now)
	if err != nil {
		return nil, dbError(op, err)
	}
	grants, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*grant.Grant, error) { return scanGrant(r) })
	if err != nil {
		return nil, dbError(op, err)
	}
	return grant.ActiveScopes(grants, now), nil
}

// GrantQuery selects a page of ListGrants.
type GrantQuery struct {
	// SubjectID, when set, keeps only that subject's grants.
	SubjectID string
	// IncludeInactive includes expired and revoked grants; otherwise only those active at Now.
	IncludeInactive bool
	Now             time.Time
	// AfterCreated and AfterID continue after that grant (newest first); zero starts at the top.
	AfterCreated time.Time
	AfterID      string
	// Limit is the most grants returned.
	Limit int
}

// ListGrants returns grants newest first.
func (s *Store) ListGrants(ctx context.Context, q GrantQuery) ([]*grant.Grant, error) {
	const op = "postgres.Store.ListGrants"
	var after *time.Time
	if !q.AfterCreated.IsZero() {
		after = &q.AfterCreated
	}
	rows, err := s.pool.Query(ctx, `SELECT `+grantColumns+` FROM grants
WHERE ($1::uuid IS NULL OR subject_id = $1::uuid)
  AND ($2 OR (revoked_at IS NULL AND expires_at > $3))
  AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
ORDER BY created_at DESC, id DESC LIMIT $6`, nullUUID(q.SubjectID), q.IncludeInactive, q.Now, after, nullUUID(q.AfterID), q.Limit)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*grant.Grant, error) { return scanGrant(r) })
	return out, dbError(op, err)
}
