package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// userColumns are the columns of a user, in scanUser's order.
const userColumns = `id, email, name, display_name, roles, active, service_account, totp_enrolled,
	must_change_password, created_at, updated_at`

// userSelect is userColumns qualified, for queries that join other tables.
const userSelect = `users.id, users.email, users.name, users.display_name, users.roles, users.active,
	users.service_account, users.totp_enrolled, users.must_change_password, users.created_at, users.updated_at`

// scanUser reads one row of userColumns (plus extra destinations after them).
func scanUser(row pgx.Row, extra ...any) (*user.User, error) {
	var s user.Snapshot
	var email, name *string
	var roles []string
	dest := append([]any{&s.ID, &email, &name, &s.DisplayName, &roles, &s.Active, &s.ServiceAccount,
		&s.TOTPEnrolled, &s.MustChangePassword, &s.CreatedAt, &s.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if email != nil {
		s.Email = *email
	}
	if name != nil {
		s.Name = *name
	}
	for _, r := range roles {
		s.Roles = append(s.Roles, user.Role(r))
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return user.FromSnapshot(s), nil
}

// nullable turns "" into NULL.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func insertUser(ctx context.Context, tx pgx.Tx, u *user.User) error {
	s := u.Snapshot()
	_, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		s.ID, nullable(s.Email), nullable(s.Name), s.DisplayName, user.RoleNames(s.Roles), s.Active, s.ServiceAccount,
		s.TOTPEnrolled, s.MustChangePassword, s.CreatedAt, s.UpdatedAt)
	return err
}

func updateUser(ctx context.Context, tx pgx.Tx, u *user.User) error {
	s := u.Snapshot()
	_, err := tx.Exec(ctx, `UPDATE users SET display_name = $2, roles = $3, active = $4, totp_enrolled = $5,
	must_change_password = $6, updated_at = $7 WHERE id = $1`,
		s.ID, s.DisplayName, user.RoleNames(s.Roles), s.Active, s.TOTPEnrolled, s.MustChangePassword, s.UpdatedAt)
	return err
}

// lockUser reads a user for update inside tx.
func lockUser(ctx context.Context, tx pgx.Tx, id string) (*user.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userSelect+` FROM users WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E("postgres.lockUser", errs.NotFound, "no account "+id)
	}
	return u, err
}

// NewUser is an account to create and what is created with it.
type NewUser struct {
	// User is the new account (user.New or user.NewServiceAccount).
	User *user.User
	// PasswordHash is a person's argon2id hash.
	PasswordHash string
	// ClientID and SecretHash are a service account's client credentials.
	ClientID   string
	SecretHash []byte
	// Audit is written with the account.
	Audit audit.Entry
	// Idempotency, when set, makes a retry return the first response instead of creating.
	Idempotency *Idempotency
}

// CreateUser creates a person with their password hash, the Registered event and the audit
// entry. With n.Idempotency set and its key already used, nothing is created and the first
// call's response is returned (replay non-nil). An existing email is a Conflict.
func (s *Store) CreateUser(ctx context.Context, n NewUser) (replay []byte, err error) {
	return s.create(ctx, "postgres.Store.CreateUser", n, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO password_credentials (user_id, hash, updated_at) VALUES ($1, $2, $3)`,
			n.User.ID(), n.PasswordHash, n.User.CreatedAt())
		return err
	})
}

// create inserts n.User and its Registered event, runs extra, writes the audit entry, all in
// one transaction claimed by n.Idempotency first.
func (s *Store) create(ctx context.Context, op string, n NewUser, extra func(pgx.Tx) error) ([]byte, error) {
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		if err := s.claim(ctx, tx, n.Idempotency); err != nil {
			return err
		}
		if err := insertUser(ctx, tx, n.User); err != nil {
			return err
		}
		if err := extra(tx); err != nil {
			return err
		}
		if err := s.enqueueChanges(ctx, tx, n.User); err != nil {
			return err
		}
		return writeAudit(ctx, tx, n.Audit)
	})
	if errors.Is(err, errReplay) {
		return s.replay(ctx, op, n.Idempotency)
	}
	return nil, err
}

// User returns the account with id, or a NotFound error.
func (s *Store) User(ctx context.Context, id string) (*user.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userSelect+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E("postgres.Store.User", errs.NotFound, "no account "+id)
	}
	return u, dbError("postgres.Store.User", err)
}

// Credentials returns the person with email and their password hash, or a NotFound error.
func (s *Store) Credentials(ctx context.Context, email string) (*user.User, string, error) {
	var hash string
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userSelect+`, c.hash FROM users
	JOIN password_credentials c ON c.user_id = users.id WHERE email = $1`, email), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", errs.E("postgres.Store.Credentials", errs.NotFound, "no account with this email")
	}
	return u, hash, dbError("postgres.Store.Credentials", err)
}

// PasswordHash returns the password hash of the person with id.
func (s *Store) PasswordHash(ctx context.Context, id string) (string, error) {
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT hash FROM password_credentials WHERE user_id = $1`, id).Scan(&hash)
	return hash, dbError("postgres.Store.PasswordHash", err)
}

// Update applies fn to the account with id in one transaction: it saves the result,
// enqueues an event for every change fn recorded, writes entries, and revokes every refresh
// token when the account was deactivated. An error from fn rolls everything back.
func (s *Store) Update(ctx context.Context, id string, fn func(*user.User) error, entries ...audit.Entry) (*user.User, error) {
	var out *user.User
	err := s.inTx(ctx, "postgres.Store.Update", func(tx pgx.Tx) error {
		u, err := lockUser(ctx, tx, id)
		if err != nil {
			return err
		}
		wasActive := u.Active()
		if err := fn(u); err != nil {
			return err
		}
		if err := updateUser(ctx, tx, u); err != nil {
			return err
		}
		if wasActive && !u.Active() {
			if err := revokeSessions(ctx, tx, id, s.now()); err != nil {
				return err
			}
		}
		if err := s.enqueueChanges(ctx, tx, u); err != nil {
			return err
		}
		out = u
		return writeAudit(ctx, tx, entries...)
	})
	return out, err
}

// ChangePassword stores a person's new password hash, ends any obligation to change it, and
// revokes every refresh token of the account (a password change signs out everywhere).
func (s *Store) ChangePassword(ctx context.Context, id, hash string, entries ...audit.Entry) error {
	return s.inTx(ctx, "postgres.Store.ChangePassword", func(tx pgx.Tx) error {
		u, err := lockUser(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.now()
		if err := u.PasswordChanged(now); err != nil {
			return err
		}
		if err := updateUser(ctx, tx, u); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE password_credentials SET hash = $2, updated_at = $3 WHERE user_id = $1`, id, hash, now); err != nil {
			return err
		}
		if err := revokeSessions(ctx, tx, id, now); err != nil {
			return err
		}
		return writeAudit(ctx, tx, entries...)
	})
}

// RehashPassword replaces the person's password hash old with hash — the same password
// hashed with the current argon2id parameters — and writes entries, unless the stored hash is
// no longer old (the password was changed meanwhile), which it reports as false. Unlike
// ChangePassword it changes nothing else: sessions, the account and the credential's
// updated_at (when the password was last set) stay as they are.
func (s *Store) RehashPassword(ctx context.Context, id, old, hash string, entries ...audit.Entry) (bool, error) {
	var replaced bool
	err := s.inTx(ctx, "postgres.Store.RehashPassword", func(tx pgx.Tx) error {
		if _, err := lockUser(ctx, tx, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE password_credentials SET hash = $3 WHERE user_id = $1 AND hash = $2`, id, old, hash)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		replaced = true
		return writeAudit(ctx, tx, entries...)
	})
	return replaced, err
}

// UserQuery selects a page of ListUsers.
type UserQuery struct {
	// Role, when set, keeps only accounts with that role.
	Role user.Role
	// IncludeInactive includes deactivated accounts.
	IncludeInactive bool
	// AfterKey and AfterID continue after the account with that sort key (email or service
	// account name) and id; empty starts at the beginning.
	AfterKey, AfterID string
	// Limit is the most accounts returned.
	Limit int
}

// ListUsers returns accounts ordered by email (service accounts by name among them).
func (s *Store) ListUsers(ctx context.Context, q UserQuery) ([]*user.User, error) {
	const op = "postgres.Store.ListUsers"
	rows, err := s.pool.Query(ctx, `SELECT `+userSelect+` FROM users
WHERE ($1 = '' OR roles @> ARRAY[$1]) AND ($2 OR active)
  AND ($3 = '' OR (sort_key, id) > ($3, $4::uuid))
ORDER BY sort_key, id LIMIT $5`, string(q.Role), q.IncludeInactive, q.AfterKey, nullUUID(q.AfterID), q.Limit)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*user.User, error) { return scanUser(r) })
	return out, dbError(op, err)
}

// nullUUID turns "" into NULL for a uuid parameter.
func nullUUID(id string) *string { return nullable(id) }

// CreateFirstAdmin creates the first admin — n.User with n.PasswordHash — with totpSecret
// already confirmed, unless an active admin exists, which is a FailedPrecondition error
// (ErrAdminExists). An advisory lock makes concurrent bootstraps create one admin.
func (s *Store) CreateFirstAdmin(ctx context.Context, n NewUser, totpSecret []byte) error {
	return s.inTx(ctx, "postgres.Store.CreateFirstAdmin", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('meshwork.identity.bootstrap'))`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE active AND roles @> ARRAY['admin'])`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return ErrAdminExists
		}
		if err := insertUser(ctx, tx, n.User); err != nil {
			return err
		}
		now := n.User.CreatedAt()
		if _, err := tx.Exec(ctx, `INSERT INTO password_credentials (user_id, hash, updated_at) VALUES ($1, $2, $3)`,
			n.User.ID(), n.PasswordHash, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO totp_secrets (user_id, sealed_secret, confirmed_at) VALUES ($1, $2, $3)`,
			n.User.ID(), s.kek.Seal(totpSecret, totpContext(n.User.ID())), now); err != nil {
			return err
		}
		if err := s.enqueueChanges(ctx, tx, n.User); err != nil {
			return err
		}
		return writeAudit(ctx, tx, n.Audit)
	})
}

// ErrAdminExists is CreateFirstAdmin's refusal.
var ErrAdminExists = errs.E("postgres.Store.CreateFirstAdmin", errs.FailedPrecondition, "an admin already exists")

// revokeSessions revokes every live refresh token of a user.
func revokeSessions(ctx context.Context, tx pgx.Tx, userID string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
	return err
}
