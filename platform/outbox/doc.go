// Package outbox is the transactional outbox for database-backed domains, and the inbox that
// makes their consumers idempotent, on Postgres (pgx) and NATS JetStream.
//
// # Guarantees
//
// No event without its change, no change without its event: Enqueue writes the complete
// event message (subject, headers, payload) into the outbox table inside the caller's
// transaction, so it commits or rolls back with the business change. A Relay then publishes
// every committed event to JetStream at least once, with Nats-Msg-Id set to the event id, so
// that the stream stores it exactly once as long as every re-publish lands inside the
// stream's duplicate window. Consumers close the loop: Processed records the event id in the
// inbox in the handler's own transaction, so a redelivered event changes nothing twice.
//
// # Relaying
//
// A relay claims a batch of rows in a transaction (oldest first, FOR UPDATE SKIP LOCKED),
// publishes them one by one with jetstream.PublishMsg, marks them published (published_at
// is set; the row stays for audit until PrunePublished) and commits. Several relays can run
// over one table; each row is claimed by one of them at a time, so in normal operation each
// event is published once. Enqueue notifies the table's channel, so listening relays wake at
// commit; polling every PollInterval covers a lost notification.
//
// Order: events of one subject are published in the order they were inserted, also across
// relays: a row is not published while an older unpublished row of its subject is held by
// another relay, waiting for a retry, or parked, and a batch leaves a subject alone after its
// first failure. "Inserted" is the order of the Enqueue statements; two transactions that
// enqueue for the same subject without serialising on a row of their own have no order
// between them.
//
// # Failure model
//
//   - The producer's transaction rolls back: the event is gone with the change.
//   - The relay is not connected to NATS, no stream listens on the subject, or the stream
//     refuses the message (too large, full): nothing reached the stream, so a retry cannot
//     duplicate it. The row records attempts, last_error and next_attempt_at (exponential
//     backoff up to MaxRetryBackoff) and is retried for as long as it takes, holding back
//     the later events of its subject; Tables.Backlog counts such rows as Retrying.
//   - A publish gets no answer (timeout): the event may be in the stream. It is retried only
//     while the retry is sure to land inside the duplicate window (see RelayConfig.Horizon);
//     after that it is parked: it stays unpublished in the table, logged and counted
//     (Stats.Parked, Tables.Backlog), until an operator calls Requeue. Events are never
//     deleted unpublished.
//   - A relay dies between JetStream's ack and its commit: its transaction rolls back and
//     another relay publishes the batch again within the Horizon; JetStream acks the copies
//     as duplicates and stores nothing new. NewRelay refuses a config whose Horizon does not
//     fit twice inside DuplicateWindow. A residual risk stays: if no relay can run again
//     until the window has passed (all relays down, Postgres unreachable), that batch is
//     stored twice, and consumers' inboxes drop the second copy.
//   - Postgres is down: batches fail and are retried every PollInterval; Run keeps going.
//
// # Usage
//
// Producer, in the service's store adapter:
//
//	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		if err := saveJob(ctx, tx, job); err != nil {
//			return err
//		}
//		msg, err := dataproduct.NewMessage(ctx, jobsProduct, job.ID, job.Proto())
//		if err != nil {
//			return err
//		}
//		return outbox.Enqueue(ctx, tx, msg)
//	})
//
// Relay, in main, after outbox.Migrate:
//
//	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: 2 * time.Minute})
//	if err != nil {
//		return err
//	}
//	g.Go(func() error { return relay.Run(ctx) }) // nil once ctx is cancelled and its batch committed
//
// Consumer, in a message handler:
//
//	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		first, err := outbox.Processed(ctx, tx, "scheduling--quality.machine-health.v1", msg.Headers().Get(jetstream.MsgIDHeader))
//		if err != nil || !first {
//			return err
//		}
//		return applyHealth(ctx, tx, health)
//	})
//
// Table names default to outbox_events and inbox_events; use a Tables value for others.
package outbox
