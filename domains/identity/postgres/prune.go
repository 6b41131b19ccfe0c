package postgres

import (
	"context"
	"time"

	"meshwork.dev/platform/errs"
)

// Retention says how long Prune keeps what would otherwise only grow.
type Retention struct {
	// Audit is how long audit entries are kept.
	Audit time.Duration
	// RefreshGrace is how long a refresh token is kept after it expired or its family was
	// revoked. Reuse detection needs the rows of spent tokens: presenting a spent token
	// revokes its family only while its row exists. A spent token is kept at least until it
	// expires plus the grace, so a thief's branch of a family is still caught when the
	// rightful client comes back with the old token up to the grace after it expired.
	RefreshGrace time.Duration
	// Batch is the most rows one statement deletes, so no statement holds locks for long;
	// zero means 1000.
	Batch int
}

// Pruned counts what Prune deleted.
type Pruned struct {
	RefreshTokens, AuditEntries, IdempotencyKeys int64
}

// Any reports whether anything was deleted.
func (p Pruned) Any() bool { return p.RefreshTokens+p.AuditEntries+p.IdempotencyKeys > 0 }

// Prune deletes, as of now: refresh tokens expired or revoked more than r.RefreshGrace ago,
// audit entries older than r.Audit, and idempotency keys past IdempotencyTTL (a retry with
// such a key creates again anyway). It deletes in batches of r.Batch rows, each its own
// statement, skipping rows another transaction holds, until a batch comes back short or ctx
// ends. Signing keys are pruned at rotation (RotateSigningKey). Several replicas may prune at
// once.
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time) (Pruned, error) {
	const op = "postgres.Store.Prune"
	if r.Batch <= 0 {
		r.Batch = 1000
	}
	var out Pruned
	for _, job := range []struct {
		n     *int64
		query string
		since time.Time
	}{
		{&out.RefreshTokens, `DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens
	WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, now.Add(-r.RefreshGrace)},
		{&out.AuditEntries, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log
	WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, now.Add(-r.Audit)},
		{&out.IdempotencyKeys, `DELETE FROM idempotency_keys WHERE (actor_id, operation, key) IN (SELECT actor_id, operation, key
	FROM idempotency_keys WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, now.Add(-IdempotencyTTL)},
	} {
		for {
			tag, err := s.pool.Exec(ctx, job.query, job.since, r.Batch)
			if err != nil {
				return out, dbError(op, err)
			}
			*job.n += tag.RowsAffected()
			if tag.RowsAffected() < int64(r.Batch) {
				break
			}
			if err := ctx.Err(); err != nil {
				return out, errs.Wrap(op, &errs.Error{Kind: errs.Unavailable, Msg: "pruning stopped", Err: err})
			}
		}
	}
	return out, nil
}
