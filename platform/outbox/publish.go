package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNotConnected is recorded for events the relay did not send because its NATS connection
// was down.
var errNotConnected = errors.New("not connected to NATS")

// outcome is what became of one claimed row in a batch.
type outcome struct {
	tried     bool  // false: not attempted in this batch (subject blocked, time up, stopping)
	err       error // nil: JetStream acked
	inDoubt   bool  // the failed attempt may have stored the event
	duplicate bool  // JetStream acked it as a duplicate
}

// publishAll publishes the claimed rows in order, one at a time, so that a subject's events
// reach the stream in the order they were enqueued. After a subject's first failure the
// batch leaves that subject's later events alone. No publish starts after half the
// ClaimTimeout or once ctx is cancelled; publishes run under bctx, which outlives ctx. It
// returns a *crashError when the AfterPublish hook fails.
func (r *Relay) publishAll(ctx, bctx context.Context, start time.Time, rows []row) ([]outcome, error) {
	outcomes := make([]outcome, len(rows))
	var failed map[string]bool
	for i, w := range rows {
		if ctx.Err() != nil || time.Since(start) > r.cfg.ClaimTimeout/2 {
			break
		}
		if failed[w.subject] {
			continue
		}
		o := r.publish(bctx, w)
		outcomes[i] = o
		if o.err != nil {
			if failed == nil {
				failed = map[string]bool{}
			}
			failed[w.subject] = true
			continue
		}
		if r.cfg.AfterPublish != nil {
			if err := r.cfg.AfterPublish(w.id); err != nil {
				return nil, &crashError{eventID: w.id, err: err}
			}
		}
	}
	return outcomes, nil
}

// publish sends one event and classifies the result.
func (r *Relay) publish(ctx context.Context, w row) outcome {
	h, err := decodeHeaders(w.headers)
	if err != nil {
		return outcome{tried: true, err: err}
	}
	// The event id is the de-duplication key, whatever the stored headers say.
	h.Set(nats.MsgIdHdr, w.id)
	if !r.js.Conn().IsConnected() {
		return outcome{tried: true, err: errNotConnected}
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	// No retries inside PublishMsg: a no-responders answer retried until the deadline would
	// come back as a timeout, and a refusal would be taken for a publish in doubt. The
	// relay's own backoff retries.
	ack, err := r.js.PublishMsg(pctx, &nats.Msg{Subject: w.subject, Header: h, Data: w.payload},
		jetstream.WithRetryAttempts(0))
	if err != nil {
		return outcome{tried: true, err: err, inDoubt: inDoubt(err)}
	}
	return outcome{tried: true, duplicate: ack.Duplicate}
}

// inDoubt reports whether a failed publish may nevertheless have stored the event. Only
// failures where the message was certainly not stored are excluded: it was never sent (not
// connected, too large, invalid), nobody was listening on the subject (no stream), or the
// stream answered with an error. Anything else, a timeout first of all, is in doubt.
func inDoubt(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, errNotConnected),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, nats.ErrBadSubject),
		errors.Is(err, nats.ErrHeadersNotSupported),
		errors.As(err, &apiErr):
		return false
	}
	return true
}
