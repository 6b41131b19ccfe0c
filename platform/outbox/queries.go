package outbox

import (
	"fmt"
	"strconv"
)

// queries holds a relay's SQL, built once for its table.
type queries struct {
	// setTimeout makes Postgres end the session of a relay that goes silent inside its
	// batch transaction, so that its claimed rows return to the table.
	setTimeout string
	// claim locks the next batch. $1 is the batch size, $2 the seconds after which an event
	// whose publish went unanswered may no longer be re-published.
	claim string
	// published marks the rows $1 (seqs) as published. Row statements repeat
	// "published_at IS NULL" so that Postgres finds the rows through the pending index.
	published string
	// failed records a failed attempt on row $1: error $2, retry after $3 seconds, and when
	// $4 the attempt may have reached the stream.
	failed string
	// park marks events that can no longer be re-published inside the window ($1 seconds).
	park string
	// channel is the LISTEN statement for the table's notifications.
	listen string
}

func newQueries(n names, cfg RelayConfig) queries {
	t := n.outbox
	return queries{
		setTimeout: "SET LOCAL idle_in_transaction_session_timeout = " +
			strconv.FormatInt(cfg.ClaimTimeout.Milliseconds(), 10),
		// The candidates are the oldest claimable rows nobody else holds. A candidate is
		// published only if no older unpublished row of its subject lies outside the
		// candidates: that row is held by another relay, waiting for a retry or parked,
		// and must go first. Candidates left out stay locked, untouched, until the commit.
		// The check is a scalar subquery with LIMIT 1, not NOT EXISTS, so that Postgres
		// walks the (subject, seq) index per candidate, stopping at the first row outside
		// the batch, instead of hashing every unpublished row.
		claim: fmt.Sprintf(`WITH cand AS (
	SELECT seq, event_id, subject, headers, payload, attempts
	FROM %[1]s
	WHERE published_at IS NULL AND parked_at IS NULL AND next_attempt_at <= now()
	  AND (in_doubt_since IS NULL OR in_doubt_since > now() - make_interval(secs => $2))
	ORDER BY seq
	LIMIT $1
	FOR UPDATE SKIP LOCKED
)
SELECT c.seq, c.event_id, c.subject, c.headers, c.payload, c.attempts
FROM cand c
WHERE (
	SELECT p.seq FROM %[1]s p
	WHERE p.published_at IS NULL AND p.subject = c.subject AND p.seq < c.seq
	  AND p.seq NOT IN (SELECT seq FROM cand)
	ORDER BY p.subject, p.seq
	LIMIT 1
) IS NULL
ORDER BY c.seq`, t),
		published: fmt.Sprintf(`UPDATE %s SET published_at = clock_timestamp() WHERE seq = ANY($1) AND published_at IS NULL`, t),
		failed: fmt.Sprintf(`UPDATE %s SET
	attempts = attempts + 1,
	last_error = $2,
	next_attempt_at = now() + make_interval(secs => $3),
	in_doubt_since = CASE WHEN $4::boolean THEN COALESCE(in_doubt_since, now()) ELSE in_doubt_since END
WHERE seq = $1 AND published_at IS NULL`, t),
		park: fmt.Sprintf(`UPDATE %[1]s SET parked_at = now()
WHERE event_id IN (
	SELECT event_id FROM %[1]s
	WHERE published_at IS NULL AND parked_at IS NULL AND in_doubt_since IS NOT NULL
	  AND GREATEST(now(), next_attempt_at) >= in_doubt_since + make_interval(secs => $1)
	FOR UPDATE SKIP LOCKED
)
RETURNING event_id, subject, attempts, COALESCE(last_error, '')`, t),
		listen: "LISTEN " + ident(n.channel),
	}
}
