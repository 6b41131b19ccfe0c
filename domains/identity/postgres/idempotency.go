package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/platform/errs"
)

// IdempotencyTTL is how long a response is kept for retries with the same key.
const IdempotencyTTL = 24 * time.Hour

// Idempotency makes a creation retry-safe: the first call with a key stores its response
// (sealed with the KEK, since it holds a one-time password or client secret); a retry with
// the same key returns that response and creates nothing. Keys are scoped to the actor and
// operation.
type Idempotency struct {
	// ActorID is the caller; Operation the RPC; Key the client's idempotency key.
	ActorID, Operation, Key string
	// RequestHash identifies the request: a retry must send the same request.
	RequestHash []byte
	// Response is the encoded response of this call, stored for retries.
	Response []byte
}

// errReplay aborts a creation whose key was already used.
var errReplay = errors.New("idempotency key already used")

func (i *Idempotency) context() string {
	return "idempotency:" + i.ActorID + ":" + i.Operation + ":" + i.Key
}

// claim records i inside tx, or returns errReplay when its key is taken. A concurrent
// creation with the same key makes claim wait for it to commit or roll back.
func (s *Store) claim(ctx context.Context, tx pgx.Tx, i *Idempotency) error {
	if i == nil {
		return nil
	}
	now := s.now()
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys
WHERE actor_id = $1 AND operation = $2 AND key = $3 AND created_at < $4`,
		i.ActorID, i.Operation, i.Key, now.Add(-IdempotencyTTL)); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (actor_id, operation, key, request_hash, sealed_response, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		i.ActorID, i.Operation, i.Key, i.RequestHash, s.kek.Seal(i.Response, i.context()), now)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errReplay
	}
	return nil
}

// replay returns the stored response for i, or an Invalid error when the key was used for a
// different request.
func (s *Store) replay(ctx context.Context, op string, i *Idempotency) ([]byte, error) {
	var hash, sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT request_hash, sealed_response FROM idempotency_keys
WHERE actor_id = $1 AND operation = $2 AND key = $3`, i.ActorID, i.Operation, i.Key).Scan(&hash, &sealed)
	if err != nil {
		return nil, dbError(op, err)
	}
	if !bytes.Equal(hash, i.RequestHash) {
		return nil, errs.BadRequest(op, errs.Violation{Field: "idempotency_key", Description: "was already used for a different request"})
	}
	resp, err := s.kek.Open(sealed, i.context())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return resp, nil
}
