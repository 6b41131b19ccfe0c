package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"

	"meshwork.dev/platform/errs"
)

// Enqueue stores msg in the outbox inside tx, so that the event commits or rolls back with the
// caller's business change. The event id is msg's Nats-Msg-Id header, which the relay keeps
// when it publishes, so JetStream drops a re-publish inside the stream's duplicate window.
//
// It returns an errs.Invalid error when msg has no Nats-Msg-Id or its subject cannot be
// published to (empty, wildcard, empty token or whitespace), and an errs.Conflict error when
// the outbox already holds the id; in both cases nothing is written, though a Conflict leaves
// tx aborted as any failed statement does. Committing tx notifies listening relays.
func (t Tables) Enqueue(ctx context.Context, tx pgx.Tx, msg *nats.Msg) error {
	const op = "outbox.Enqueue"
	n, err := t.resolve()
	if err != nil {
		return errs.Errorf(op, errs.Invalid, "%w", err)
	}
	if msg == nil {
		return errs.E(op, errs.Invalid, "message is nil")
	}
	id := msg.Header.Get(nats.MsgIdHdr)
	if id == "" {
		return errs.BadRequest(op, errs.Violation{Field: "header." + nats.MsgIdHdr,
			Description: "is required: it is the event id JetStream de-duplicates on"})
	}
	if err := checkSubject(msg.Subject); err != nil {
		return errs.BadRequest(op, errs.Violation{Field: "subject", Description: err.Error()})
	}
	headers, err := json.Marshal(msg.Header)
	if err != nil {
		return errs.Errorf(op, errs.Invalid, "encode headers: %w", err)
	}
	payload := msg.Data
	if payload == nil {
		payload = []byte{} // nil would be stored as NULL
	}
	// One round trip: the insert, and a notification delivered only if tx commits.
	sql := fmt.Sprintf(`WITH e AS (
	INSERT INTO %s (event_id, subject, headers, payload) VALUES ($1, $2, $3, $4) RETURNING 1
)
SELECT pg_notify($5, '') FROM e`, n.outbox)
	if _, err := tx.Exec(ctx, sql, id, msg.Subject, headers, payload, n.channel); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return &errs.Error{Op: op, Kind: errs.Conflict, Msg: "event " + id + " is already in the outbox", Err: err}
		}
		return errs.Wrap(op, err)
	}
	return nil
}

// Enqueue stores msg in the default outbox table; see Tables.Enqueue.
func Enqueue(ctx context.Context, tx pgx.Tx, msg *nats.Msg) error {
	return Tables{}.Enqueue(ctx, tx, msg)
}

// checkSubject rejects subjects a publish cannot go to.
func checkSubject(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return errors.New("must not contain whitespace")
	}
	for _, tok := range strings.Split(s, ".") {
		switch tok {
		case "":
			return errors.New("must not have an empty token")
		case "*", ">":
			return errors.New("must not contain wildcards")
		}
	}
	return nil
}

// decodeHeaders turns a stored headers column back into a nats.Header.
func decodeHeaders(b []byte) (nats.Header, error) {
	h := nats.Header{}
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("decode headers: %w", err)
	}
	return h, nil
}
