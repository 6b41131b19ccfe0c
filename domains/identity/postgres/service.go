package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// CreateServiceAccount creates a service account with its client id and secret hash, the
// Registered event and the audit entry; see CreateUser for replay. A taken name is a
// Conflict.
func (s *Store) CreateServiceAccount(ctx context.Context, n NewUser) (replay []byte, err error) {
	return s.create(ctx, "postgres.Store.CreateServiceAccount", n, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO service_accounts (user_id, client_id, secret_hash, rotated_at) VALUES ($1, $2, $3, $4)`,
			n.User.ID(), n.ClientID, n.SecretHash, n.User.CreatedAt())
		return err
	})
}

// ServiceAccount returns the service account with clientID and its secret hash, or a
// NotFound error.
func (s *Store) ServiceAccount(ctx context.Context, clientID string) (*user.User, []byte, error) {
	var hash []byte
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userSelect+`, sa.secret_hash FROM users
	JOIN service_accounts sa ON sa.user_id = users.id WHERE sa.client_id = $1`, clientID), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, errs.E("postgres.Store.ServiceAccount", errs.NotFound, "no service account "+clientID)
	}
	return u, hash, dbError("postgres.Store.ServiceAccount", err)
}

// RotateClientSecret replaces the secret hash of the service account called name and returns
// the account and its client id, or a NotFound error.
func (s *Store) RotateClientSecret(ctx context.Context, name string, secretHash []byte, entry func(u *user.User) audit.Entry) (*user.User, string, error) {
	var u *user.User
	var clientID string
	err := s.inTx(ctx, "postgres.Store.RotateClientSecret", func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userSelect+`, sa.client_id FROM users
	JOIN service_accounts sa ON sa.user_id = users.id WHERE users.name = $1 FOR UPDATE`, name), &clientID)
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.E("postgres.Store.RotateClientSecret", errs.NotFound, "no service account "+name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE service_accounts SET secret_hash = $2, rotated_at = $3 WHERE user_id = $1`,
			u.ID(), secretHash, s.now()); err != nil {
			return err
		}
		return writeAudit(ctx, tx, entry(u))
	})
	return u, clientID, err
}
