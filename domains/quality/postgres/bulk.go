package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/outbox"
)

// Bulk statements over the platform's default outbox and inbox tables: one round trip per
// batch instead of one per row. They write exactly what outbox.Processed and outbox.Enqueue
// write (the relay cannot tell the difference).
var (
	inboxTable  = pgx.Identifier{outbox.DefaultInboxTable}.Sanitize()
	outboxTable = pgx.Identifier{outbox.DefaultOutboxTable}.Sanitize()

	processedSQL = `INSERT INTO ` + inboxTable + ` (consumer, event_id)
SELECT $1, id FROM unnest($2::text[]) AS id
ON CONFLICT DO NOTHING RETURNING event_id`
	enqueueSQL = `WITH e AS (
	INSERT INTO ` + outboxTable + ` (event_id, subject, headers, payload)
	SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bytea[])
	RETURNING 1
)
SELECT pg_notify($5, '') FROM e LIMIT 1`
)

// processedBatch records every id in the inbox for consumer in one statement and returns the
// ids seen for the first time (an id twice in ids is returned once).
func processedBatch(ctx context.Context, tx pgx.Tx, consumer string, ids []string) (map[string]bool, error) {
	rows, err := tx.Query(ctx, processedSQL, consumer, ids)
	if err != nil {
		return nil, fmt.Errorf("record inbox: %w", err)
	}
	first := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("record inbox: %w", err)
		}
		first[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("record inbox: %w", err)
	}
	return first, nil
}

// enqueueBatch stores msgs in the outbox in one statement and notifies the relays on commit.
// Every message needs a Nats-Msg-Id (the event id); a duplicate id fails the statement.
func enqueueBatch(ctx context.Context, tx pgx.Tx, msgs []*nats.Msg) error {
	if len(msgs) == 0 {
		return nil
	}
	ids := make([]string, len(msgs))
	subjects := make([]string, len(msgs))
	headers := make([][]byte, len(msgs))
	payloads := make([][]byte, len(msgs))
	for i, m := range msgs {
		ids[i], subjects[i] = m.Header.Get(nats.MsgIdHdr), m.Subject
		if ids[i] == "" {
			return fmt.Errorf("enqueue %s: no %s", m.Subject, nats.MsgIdHdr)
		}
		h, err := json.Marshal(m.Header)
		if err != nil {
			return fmt.Errorf("enqueue %s: encode headers: %w", ids[i], err)
		}
		headers[i], payloads[i] = h, m.Data
		if payloads[i] == nil {
			payloads[i] = []byte{}
		}
	}
	if _, err := tx.Exec(ctx, enqueueSQL, ids, subjects, headers, payloads, outbox.DefaultOutboxTable); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("enqueue: an event is already in the outbox: %w", err)
		}
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// publishTimeout bounds the wait for a batch's publish acks.
const publishTimeout = 10 * time.Second

// publishAsync publishes msgs pipelined (asynchronous publishes, in order on one connection)
// and returns their ack futures for waitAcks. It runs inside the batch's transaction, before
// the commit: if the commit then fails or the process dies, the readings are applied again
// from the saved state, which yields the same events with the same ids (Nats-Msg-Id), dropped
// by the streams' duplicate window. So nothing is lost and nothing is stored twice.
func publishAsync(js jetstream.JetStream, msgs []*nats.Msg) ([]jetstream.PubAckFuture, error) {
	acks := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		acks = append(acks, f)
	}
	return acks, nil
}

// waitAcks fails unless every publish is acknowledged (stored) within publishTimeout.
func waitAcks(ctx context.Context, acks []jetstream.PubAckFuture) error {
	if len(acks) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("publish: waiting for acks: %w", ctx.Err())
		}
	}
	return nil
}
