package postgres

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/platform/errs"
)

// keyRetention is how long a key is kept after it left the JWKS, for audits.
const keyRetention = 30 * 24 * time.Hour

func keyContext(kid string) string { return "signing-key:" + kid }

// EnsureSigningKey stores next as the current signing key when there is none (first start)
// and reports whether it did. Concurrent callers create one key.
func (s *Store) EnsureSigningKey(ctx context.Context, next token.SigningKey, entries ...audit.Entry) (bool, error) {
	var created bool
	err := s.inTx(ctx, "postgres.Store.EnsureSigningKey", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('meshwork.identity.signing-keys'))`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)`).Scan(&exists); err != nil || exists {
			return err
		}
		created = true
		if err := s.insertKey(ctx, tx, next); err != nil {
			return err
		}
		return writeAudit(ctx, tx, entries...)
	})
	return created, err
}

func (s *Store) insertKey(ctx context.Context, tx pgx.Tx, k token.SigningKey) error {
	_, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, sealed_private, created_at, active_from) VALUES ($1, $2, $3, $4)`,
		k.ID, s.kek.Seal(k.Private.Seed(), keyContext(k.ID)), k.CreatedAt, k.Activation())
	return err
}

// RotateSigningKey stores next as the current key, published at once and signing from
// delay after now, and retires the current key at that moment — it signs until then and stays
// published for overlap more — in one transaction; it returns when next starts signing. The
// switch is in the rows, so it happens at that time in every process that loaded them,
// restarted or not (token.Keyring). Keys that left the JWKS more than 30 days ago are
// deleted.
func (s *Store) RotateSigningKey(ctx context.Context, next token.SigningKey, delay, overlap time.Duration, entries ...audit.Entry) (time.Time, error) {
	var activate time.Time
	err := s.inTx(ctx, "postgres.Store.RotateSigningKey", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('meshwork.identity.signing-keys'))`); err != nil {
			return err
		}
		now := s.now()
		activate = now.Add(delay)
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1, publish_until = $2 WHERE retired_at IS NULL`,
			activate, activate.Add(overlap)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE publish_until < $1`, now.Add(-keyRetention)); err != nil {
			return err
		}
		next.ActiveFrom = activate
		if err := s.insertKey(ctx, tx, next); err != nil {
			return err
		}
		return writeAudit(ctx, tx, entries...)
	})
	return activate, err
}

// SigningKeys returns the keys published at now: the current one (signing or not yet) and the
// retired ones whose overlap has not ended.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]token.SigningKey, error) {
	const op = "postgres.Store.SigningKeys"
	rows, err := s.pool.Query(ctx, `SELECT kid, sealed_private, created_at, COALESCE(active_from, created_at), retired_at, publish_until FROM signing_keys
WHERE publish_until IS NULL OR publish_until > $1 ORDER BY created_at DESC, COALESCE(active_from, created_at) DESC`, now)
	if err != nil {
		return nil, dbError(op, err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (token.SigningKey, error) {
		var k token.SigningKey
		var sealed []byte
		var retired, until *time.Time
		if err := r.Scan(&k.ID, &sealed, &k.CreatedAt, &k.ActiveFrom, &retired, &until); err != nil {
			return k, err
		}
		seed, err := s.kek.Open(sealed, keyContext(k.ID))
		if err != nil {
			return k, err
		}
		if len(seed) != ed25519.SeedSize {
			return k, errs.Errorf(op, errs.Internal, "key %s: seed of %d bytes", k.ID, len(seed))
		}
		k.Private = ed25519.NewKeyFromSeed(seed)
		k.CreatedAt, k.ActiveFrom, k.RetiredAt, k.PublishUntil = k.CreatedAt.UTC(), k.ActiveFrom.UTC(), orZero(retired), orZero(until)
		return k, nil
	})
	return keys, dbError(op, err)
}
