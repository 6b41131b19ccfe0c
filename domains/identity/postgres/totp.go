package postgres

import (
	"bytes"
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// totpContext binds a sealed TOTP secret to its account.
func totpContext(userID string) string { return "totp:" + userID }

// BeginTOTP stores secret, sealed, as the account's pending TOTP secret, replacing any
// earlier pending one; the confirmed secret stays in force until ConfirmTOTP.
func (s *Store) BeginTOTP(ctx context.Context, userID string, secret []byte, entries ...audit.Entry) error {
	return s.inTx(ctx, "postgres.Store.BeginTOTP", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO totp_secrets (user_id, sealed_pending, pending_at) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET sealed_pending = EXCLUDED.sealed_pending, pending_at = EXCLUDED.pending_at`,
			userID, s.kek.Seal(secret, totpContext(userID)), s.now()); err != nil {
			return err
		}
		return writeAudit(ctx, tx, entries...)
	})
}

// PendingTOTP returns the pending secret, or a FailedPrecondition error when enrolment was
// not begun.
func (s *Store) PendingTOTP(ctx context.Context, userID string) ([]byte, error) {
	return s.openTOTP(ctx, "postgres.Store.PendingTOTP", userID, "sealed_pending", "no TOTP enrolment in progress: call BeginTotpEnrollment first")
}

// TOTPSecret returns the confirmed secret, or a FailedPrecondition error when there is none.
func (s *Store) TOTPSecret(ctx context.Context, userID string) ([]byte, error) {
	return s.openTOTP(ctx, "postgres.Store.TOTPSecret", userID, "sealed_secret", "TOTP is not enrolled")
}

func (s *Store) openTOTP(ctx context.Context, op, userID, column, missing string) ([]byte, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT `+column+` FROM totp_secrets WHERE user_id = $1`, userID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sealed == nil) {
		return nil, errs.E(op, errs.FailedPrecondition, missing)
	}
	if err != nil {
		return nil, dbError(op, err)
	}
	secret, err := s.kek.Open(sealed, totpContext(userID))
	return secret, errs.Wrap(op, err)
}

// ConfirmTOTP makes the pending secret — which must still be confirmed, the one the caller
// checked a code against — the account's secret, replaces its recovery codes with
// recoveryHashes and marks the account enrolled, in one transaction.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, confirmed []byte, recoveryHashes [][]byte, entries ...audit.Entry) (*user.User, error) {
	const op = "postgres.Store.ConfirmTOTP"
	var out *user.User
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		u, err := lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		var sealed []byte
		err = tx.QueryRow(ctx, `SELECT sealed_pending FROM totp_secrets WHERE user_id = $1 FOR UPDATE`, userID).Scan(&sealed)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		pending, openErr := s.kek.Open(sealed, totpContext(userID))
		if sealed == nil || openErr != nil || !bytes.Equal(pending, confirmed) {
			return errs.E(op, errs.FailedPrecondition, "the TOTP enrolment changed meanwhile: begin again")
		}
		now := s.now()
		if err := u.EnrolTOTP(now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE totp_secrets SET sealed_secret = sealed_pending, confirmed_at = $2,
	sealed_pending = NULL, pending_at = NULL WHERE user_id = $1`, userID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		for _, h := range recoveryHashes {
			if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)`, userID, h, now); err != nil {
				return err
			}
		}
		if err := updateUser(ctx, tx, u); err != nil {
			return err
		}
		out = u
		return writeAudit(ctx, tx, entries...)
	})
	return out, err
}

// UseRecoveryCode spends the account's unused recovery code with hash and reports whether
// there was one; each code works once, also under concurrent use.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, entries ...audit.Entry) (bool, error) {
	var used bool
	err := s.inTx(ctx, "postgres.Store.UseRecoveryCode", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
			userID, hash, s.now())
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		used = true
		return writeAudit(ctx, tx, entries...)
	})
	return used, err
}
