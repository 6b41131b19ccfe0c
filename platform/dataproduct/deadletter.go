package dataproduct

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers a dead-lettered message carries on top of the original message's headers.
const (
	// HeaderDLQReason says why the message was dead-lettered.
	HeaderDLQReason = "dlq-reason"
	// HeaderDLQStream and HeaderDLQSequence locate the original in its product stream.
	HeaderDLQStream   = "dlq-stream"
	HeaderDLQSequence = "dlq-sequence"
	// HeaderDLQSubject is the subject the original was published on.
	HeaderDLQSubject = "dlq-subject"
	// HeaderDLQConsumer is the durable consumer that gave up on it.
	HeaderDLQConsumer = "dlq-consumer"
	// HeaderDLQDeliveries is how many times it had been delivered to that consumer.
	HeaderDLQDeliveries = "dlq-deliveries"
	// HeaderDLQTime is when it was dead-lettered (RFC 3339, UTC).
	HeaderDLQTime = "dlq-time"
)

// maxReasonLen bounds the reason header and the termination reason.
const maxReasonLen = 1024

// deadLetterTimeout bounds one dead-letter publish; it does not follow the subscription's
// context, so an event failing during shutdown is still parked or handed back.
const deadLetterTimeout = 10 * time.Second

// DeadLetter builds the dead-letter copy of msg, as delivered to the durable consumer, for the
// dead-letter subject: the original payload and headers plus the dlq-* headers (reason capped
// at 1 KiB) and a Nats-Msg-Id of <consumer>:<stream>:<sequence>, so a repeated attempt for the
// same delivery is dropped by the DEADLETTER stream. Subscribe uses it; so does any consumer of
// a plain JetStream stream that parks what it cannot handle (quality's ingest bridge).
func DeadLetter(subject, consumer string, msg jetstream.Msg, meta *jetstream.MsgMetadata, reason string) *nats.Msg {
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	orig := msg.Headers()
	h := make(nats.Header, len(orig)+8)
	for k, v := range orig {
		h[k] = v
	}
	// The server refuses a publish carrying its own sourcing header (a message fetched from a
	// stream sourcing the product): the dlq-* headers say where the original stands instead.
	h.Del(streamSourceHeader)
	h.Set(HeaderDLQReason, reason)
	h.Set(HeaderDLQSubject, msg.Subject())
	h.Set(HeaderDLQConsumer, consumer)
	h.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	if meta != nil {
		seq := strconv.FormatUint(meta.Sequence.Stream, 10)
		h.Set(HeaderDLQStream, meta.Stream)
		h.Set(HeaderDLQSequence, seq)
		h.Set(HeaderDLQDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
		h.Set(HeaderMsgID, consumer+":"+meta.Stream+":"+seq)
	}
	return &nats.Msg{Subject: subject, Header: h, Data: msg.Data()}
}

// deadLetter copies msg to the consumer's dead-letter subject, then terminates it so the
// consumer moves on. The copy is stored before the termination: if the publish fails, the
// event is handed back with backoff instead, and dead-lettered on a later delivery. kv are
// header key/value pairs added to the copy (dlq-rule for a rule violation).
//
// The copy's Nats-Msg-Id is <consumer>:<stream>:<sequence>, not the event id: a repeated
// attempt for the same delivery is dropped by the DEADLETTER stream's duplicate window, while
// the same event given up by two consumer domains is kept twice. For a message sourced from
// the product's stream, stream and sequence are the product stream's (Receiver).
func (r *Receiver) deadLetter(msg jetstream.Msg, meta *jetstream.MsgMetadata, reason string, kv ...string) {
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	dl := DeadLetter(r.dlq, r.durable, msg, meta, reason)
	if subject, _, seq, sourced := r.origin(msg, meta); sourced {
		s := strconv.FormatUint(seq, 10)
		stream := r.product.StreamName()
		dl.Header.Set(HeaderDLQSubject, subject)
		dl.Header.Set(HeaderDLQStream, stream)
		dl.Header.Set(HeaderDLQSequence, s)
		dl.Header.Set(HeaderMsgID, r.durable+":"+stream+":"+s)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		dl.Header.Set(kv[i], kv[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadLetterTimeout)
	defer cancel()
	seq := dl.Header.Get(HeaderDLQSequence)
	if _, err := r.js.PublishMsg(ctx, dl); err != nil {
		r.cfg.Logger.Error("dataproduct: dead-letter publish failed, event handed back",
			"consumer", r.durable, "seq", seq, "reason", reason, "error", err)
		r.nak(msg, meta, r.backoff(meta.NumDelivered))
		return
	}
	r.cfg.Logger.Warn("dataproduct: event dead-lettered",
		"consumer", r.durable, "seq", seq, "subject", r.dlq, "reason", reason)
	if err := msg.TermWithReason(reason); err != nil {
		// The copy is parked; at worst the event comes back and is parked again, which the
		// DEADLETTER duplicate window absorbs.
		r.cfg.Logger.Warn("dataproduct: term", "consumer", r.durable, "seq", seq, "error", err)
	}
}
