package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/user"
)

// SaveRefresh stores a new refresh token of userID.
func (s *Store) SaveRefresh(ctx context.Context, userID string, r token.Refresh) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
VALUES ($1, $2, $3, $4, $5)`, r.Hash, r.FamilyID, userID, s.now(), r.ExpiresAt)
	return dbError("postgres.Store.SaveRefresh", err)
}

// Refreshed is what presenting a refresh token led to.
type Refreshed struct {
	// Outcome is token.Spend when Next was issued; token.Reused when the family was revoked
	// because the token had been spent before; token.Refused otherwise.
	Outcome token.Outcome
	// User is the token's account (set unless the token is unknown).
	User *user.User
	// Next is the new refresh token of the family (Outcome token.Spend only).
	Next token.Refresh
}

// Refresh spends the refresh token with hash and stores next(family) in its place, in one
// transaction that locks the token's row, so of two concurrent refreshes with one token the
// second sees it spent. Presenting a spent token revokes the whole family (and commits that).
// A token of an account that may no longer have a full session (deactivated) is refused and
// its family revoked. reuse is written to the audit log when reuse is detected.
func (s *Store) Refresh(ctx context.Context, hash []byte, next func(family string) token.Refresh, reuse func(u *user.User) audit.Entry) (Refreshed, error) {
	var out Refreshed
	err := s.inTx(ctx, "postgres.Store.Refresh", func(tx pgx.Tx) error {
		var st token.StoredRefresh
		var used, revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens
WHERE token_hash = $1 FOR UPDATE`, hash).Scan(&st.UserID, &st.FamilyID, &st.ExpiresAt, &used, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			out.Outcome = token.Refused
			return nil
		}
		if err != nil {
			return err
		}
		st.UsedAt, st.RevokedAt = orZero(used), orZero(revoked)
		u, err := lockUser(ctx, tx, st.UserID)
		if err != nil {
			return err
		}
		out.User = u
		now := s.now()
		out.Outcome = token.CheckRefresh(st, now)
		if out.Outcome == token.Spend && !u.FullSessionAllowed() {
			out.Outcome = token.Refused
			return revokeFamily(ctx, tx, st.FamilyID, now)
		}
		switch out.Outcome {
		case token.Reused:
			if err := revokeFamily(ctx, tx, st.FamilyID, now); err != nil {
				return err
			}
			return writeAudit(ctx, tx, reuse(u))
		case token.Refused:
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1`, hash, now); err != nil {
			return err
		}
		out.Next = next(st.FamilyID)
		_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
VALUES ($1, $2, $3, $4, $5)`, out.Next.Hash, out.Next.FamilyID, st.UserID, now, out.Next.ExpiresAt)
		return err
	})
	return out, err
}

// Logout revokes the family of the refresh token with hash and reports whether the token was
// known; entry(userID) is audited when it was.
func (s *Store) Logout(ctx context.Context, hash []byte, entry func(userID string) audit.Entry) (bool, error) {
	var found bool
	err := s.inTx(ctx, "postgres.Store.Logout", func(tx pgx.Tx) error {
		var family, userID string
		err := tx.QueryRow(ctx, `SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1`, hash).Scan(&family, &userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if err := revokeFamily(ctx, tx, family, s.now()); err != nil {
			return err
		}
		return writeAudit(ctx, tx, entry(userID))
	})
	return found, err
}

// revokeFamily revokes every token of a family.
func revokeFamily(ctx context.Context, tx pgx.Tx, family string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, family, now)
	return err
}
