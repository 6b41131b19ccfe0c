package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// flushLimit is the most outbox rows one flush claims.
const flushLimit = 2000

// flushTimeout bounds one flush: claim, publish, wait for the acks, record.
const flushTimeout = 10 * time.Second

// claimFreshSQL locks the oldest never-tried outbox rows nobody else holds, keeping only those
// with no older unpublished row of their subject outside the claim (that row goes first, by
// the platform relay). It is the platform relay's claim, restricted to fresh rows.
var claimFreshSQL = `WITH cand AS (
	SELECT seq, event_id, subject, headers, payload
	FROM ` + outboxTable + `
	WHERE published_at IS NULL AND parked_at IS NULL AND attempts = 0
	ORDER BY seq
	LIMIT $1
	FOR UPDATE SKIP LOCKED
)
SELECT c.seq, c.event_id, c.subject, c.headers, c.payload
FROM cand c
WHERE (
	SELECT p.seq FROM ` + outboxTable + ` p
	WHERE p.published_at IS NULL AND p.subject = c.subject AND p.seq < c.seq
	  AND p.seq NOT IN (SELECT seq FROM cand)
	ORDER BY p.subject, p.seq
	LIMIT 1
) IS NULL
ORDER BY c.seq`

var markPublishedSQL = `UPDATE ` + outboxTable + ` SET published_at = clock_timestamp() WHERE seq = ANY($1) AND published_at IS NULL`

// flush publishes the outbox rows just committed, pipelined (asynchronous publishes, then
// one wait for all acks), instead of waiting for the platform relay's one-at-a-time publishes.
// It claims rows like the relay (FOR UPDATE SKIP LOCKED, in seq order), so the two never
// publish the same row at once, and marks only acknowledged rows published: a row whose
// publish failed stays for the relay, and its event id (Nats-Msg-Id) makes a second store a
// no-op. It returns how many rows it published.
func (s *State) flush(ctx context.Context, js jetstream.JetStream) (int, error) {
	const op = "postgres.State.flush"
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, claimFreshSQL, flushLimit)
	if err != nil {
		return 0, fmt.Errorf("%s: claim: %w", op, err)
	}
	type claimed struct {
		seq int64
		ack jetstream.PubAckFuture
	}
	var pending []claimed
	for rows.Next() {
		var (
			seq              int64
			id, subject      string
			headers, payload []byte
		)
		if err := rows.Scan(&seq, &id, &subject, &headers, &payload); err != nil {
			rows.Close()
			return 0, fmt.Errorf("%s: claim: %w", op, err)
		}
		h := nats.Header{}
		if err := json.Unmarshal(headers, &h); err != nil {
			continue // left for the relay, which reports it
		}
		h.Set(nats.MsgIdHdr, id)
		f, err := js.PublishMsgAsync(&nats.Msg{Subject: subject, Header: h, Data: payload})
		if err != nil {
			continue
		}
		pending = append(pending, claimed{seq: seq, ack: f})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%s: claim: %w", op, err)
	}
	if len(pending) == 0 {
		return 0, nil
	}
	var done []int64
	for _, p := range pending {
		select {
		case <-p.ack.Ok():
			done = append(done, p.seq)
		case <-p.ack.Err():
		case <-ctx.Done():
		}
	}
	if len(done) > 0 {
		if _, err := tx.Exec(ctx, markPublishedSQL, done); err != nil {
			return 0, fmt.Errorf("%s: record: %w", op, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", op, err)
	}
	return len(done), nil
}

// flusher runs flush each time wake fires until ctx ends, then once more.
func (s *State) flusher(ctx context.Context, js jetstream.JetStream, wake <-chan struct{}, cfg BatchConfig) {
	bg := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			if _, err := s.flush(bg, js); err != nil {
				cfg.Logger.Warn("flush clean readings (the relay publishes them)", "err", err)
			}
			return
		case <-wake:
		}
		for {
			n, err := s.flush(bg, js)
			if err != nil {
				cfg.Logger.Warn("flush clean readings (the relay publishes them)", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
	}
}
