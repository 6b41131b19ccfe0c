package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/outbox"
)

func TestRelayPublishesCommittedEventOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := createStream(t, e.js)
	want := event("ev-1", "dp.test.things.v1.k1", []byte{0x0a, 0x03, 'a', 0x00, 'c'})
	want.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	want.Header.Add("x-multi", "one")
	want.Header.Add("x-multi", "two")
	enqueue(t, e.pool, want)

	r := start(t, e, fastConfig())
	waitFor(t, "the event to be published", drained(t, e.pool))
	if err := r.stop(); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}

	msgs := streamMsgs(t, s)
	if len(msgs) != 1 {
		t.Fatalf("stream holds %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.Subject != want.Subject || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("stored %s %x, want %s %x", got.Subject, got.Data, want.Subject, want.Data)
	}
	for k, v := range want.Header {
		if !slices.Equal(got.Header.Values(k), v) {
			t.Errorf("header %s = %q, want %q", k, got.Header.Values(k), v)
		}
	}
	if st := r.relay.Stats(); st.Published != 1 || st.Duplicates != 0 || st.Failed != 0 {
		t.Errorf("stats %+v, want 1 published, no duplicate or failure", st)
	}
	if rw := readRow(t, e.pool, "ev-1"); rw.PublishedAt == nil || rw.Attempts != 0 {
		t.Errorf("row %+v, want published after no failed attempt", rw)
	}
}

func TestRolledBackEnqueuePublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := createStream(t, e.js)
	tx, err := e.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Enqueue(t.Context(), tx, event("rolled-back", "dp.test.things.v1.k1", []byte("x"))); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A committed event on the same subject: the relay publishes in order, so once it is
	// out, an event before it would be out too.
	enqueue(t, e.pool, event("committed", "dp.test.things.v1.k1", []byte("y")))
	start(t, e, fastConfig())
	waitFor(t, "the committed event", drained(t, e.pool))

	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"committed"}) {
		t.Fatalf("stream holds %q, want only the committed event", got)
	}
}

// TestCrashBetweenPublishAndCommit: the first relay dies after JetStream acked and before
// its commit; a second relay re-publishes, and JetStream de-duplicates on Nats-Msg-Id.
func TestCrashBetweenPublishAndCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := createStream(t, e.js)
	enqueue(t, e.pool, event("ev-crash", "dp.test.things.v1.k1", []byte("payload")))

	crash := errors.New("simulated crash")
	cfg := fastConfig()
	cfg.AfterPublish = func(string) error { return crash }
	first := start(t, e, cfg)
	if err := first.wait(); !errors.Is(err, crash) {
		t.Fatalf("crashed relay's Run returned %v, want the hook's error", err)
	}
	if n := len(streamMsgs(t, s)); n != 1 {
		t.Fatalf("after the crash the stream holds %d messages, want 1", n)
	}
	if rw := readRow(t, e.pool, "ev-crash"); rw.PublishedAt != nil {
		t.Fatalf("the crashed batch was committed: %+v", rw)
	}

	second := start(t, e, fastConfig())
	waitFor(t, "the second relay to finish the event", drained(t, e.pool))
	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"ev-crash"}) {
		t.Fatalf("stream holds %q, want the event once", got)
	}
	if st := second.relay.Stats(); st.Published != 1 || st.Duplicates != 1 {
		t.Errorf("second relay stats %+v, want 1 published, acked as duplicate", st)
	}
	if rw := readRow(t, e.pool, "ev-crash"); rw.PublishedAt == nil {
		t.Errorf("row not marked published: %+v", rw)
	}
}

// TestConcurrentRelays: two relays over 500 events on 50 subjects publish each once, each
// subject in enqueue order.
func TestConcurrentRelays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := createStream(t, e.js)
	const total, subjects = 500, 50
	var batch []*nats.Msg
	for i := range total {
		batch = append(batch, event(eventID("ev", i), fmt.Sprintf("dp.test.things.v1.k%d", i%subjects), []byte{byte(i)}))
		if len(batch) == 50 {
			enqueue(t, e.pool, batch...)
			batch = nil
		}
	}
	cfg := fastConfig()
	cfg.BatchSize = 10
	a, b := start(t, e, cfg), start(t, e, cfg)
	waitFor(t, "all events to be published", drained(t, e.pool))

	msgs := streamMsgs(t, s)
	if len(msgs) != total {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), total)
	}
	seen := map[string]bool{}
	last := map[string]string{}
	for _, m := range msgs {
		id := m.Header.Get(nats.MsgIdHdr)
		if seen[id] {
			t.Fatalf("event %s is in the stream twice", id)
		}
		seen[id] = true
		if prev, ok := last[m.Subject]; ok && prev > id {
			t.Errorf("subject %s: %s stored after %s", m.Subject, id, prev)
		}
		last[m.Subject] = id
	}
	sa, sb := a.relay.Stats(), b.relay.Stats()
	if sa.Published+sb.Published != total || sa.Duplicates+sb.Duplicates != 0 {
		t.Errorf("relays published %d+%d with %d+%d duplicates, want %d in all and none twice",
			sa.Published, sb.Published, sa.Duplicates, sb.Duplicates, total)
	}
	t.Logf("relay A published %d, relay B %d", sa.Published, sb.Published)
}

// TestStreamMissing: publishes are refused until the stream exists; the row keeps its
// failed attempts and is published once the stream is there.
func TestStreamMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	enqueue(t, e.pool, event("ev-wait", "dp.test.things.v1.k1", []byte("x")))
	r := start(t, e, fastConfig())
	waitFor(t, "two failed attempts", func() (bool, error) {
		return readRow(t, e.pool, "ev-wait").Attempts >= 2, nil
	})
	rw := readRow(t, e.pool, "ev-wait")
	if rw.LastError == "" || rw.InDoubt || rw.Parked || rw.PublishedAt != nil {
		t.Fatalf("row %+v, want an error recorded, not in doubt, not parked, unpublished", rw)
	}

	s := createStream(t, e.js)
	waitFor(t, "the event once the stream exists", drained(t, e.pool))
	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"ev-wait"}) {
		t.Fatalf("stream holds %q, want the event once", got)
	}
	if st := r.relay.Stats(); st.Failed < 2 || st.Published != 1 {
		t.Errorf("stats %+v, want at least 2 failures and 1 published", st)
	}
}

// TestSubjectOrderAfterFailure: an event the stream refuses holds back the later events of
// its subject, not those of other subjects, and they follow it in order once it goes.
func TestSubjectOrderAfterFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// MaxMsgSize counts headers as well as the payload.
	s := createStream(t, e.js, func(c *jetstream.StreamConfig) { c.MaxMsgSize = 512 })
	enqueue(t, e.pool,
		event("a1-too-big", "dp.test.things.v1.a", bytes.Repeat([]byte("x"), 1024)),
		event("a2", "dp.test.things.v1.a", []byte("small")),
		event("b1", "dp.test.things.v1.b", []byte("small")),
	)
	start(t, e, fastConfig())
	waitFor(t, "the big event to fail three times", func() (bool, error) {
		return readRow(t, e.pool, "a1-too-big").Attempts >= 3, nil
	})
	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("while a1 fails the stream holds %q, want only b1", got)
	}
	if rw := readRow(t, e.pool, "a1-too-big"); rw.InDoubt || !strings.Contains(rw.LastError, "maximum") {
		t.Errorf("row %+v, want a refusal (not in doubt) naming the size limit", rw)
	}

	createStream(t, e.js, func(c *jetstream.StreamConfig) { c.MaxMsgSize = 4096 })
	waitFor(t, "subject a to be published", drained(t, e.pool))
	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"b1", "a1-too-big", "a2"}) {
		t.Fatalf("stream holds %q, want b1, then a1 before a2", got)
	}
}

// TestShutdownFinishesBatch: cancelled in the middle of a batch, Run publishes nothing more,
// commits what JetStream acked, and returns nil.
func TestShutdownFinishesBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := createStream(t, e.js)
	enqueue(t, e.pool, event("s1", "dp.test.things.v1.a", nil), event("s2", "dp.test.things.v1.b", nil),
		event("s3", "dp.test.things.v1.c", nil))
	cfg := fastConfig()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cfg.AfterPublish = func(string) error { cancel(); return nil } // stop after the first ack
	relay, err := outbox.NewRelay(e.pool, e.js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("stream holds %q, want only s1", got)
	}
	if rw := readRow(t, e.pool, "s1"); rw.PublishedAt == nil {
		t.Errorf("s1 was acked but not committed as published: %+v", rw)
	}
	for _, id := range []string{"s2", "s3"} {
		if rw := readRow(t, e.pool, id); rw.PublishedAt != nil || rw.Attempts != 0 {
			t.Errorf("%s was touched after the cancel: %+v", id, rw)
		}
	}
	if st := relay.Stats(); st.Published != 1 || st.Batches != 1 {
		t.Errorf("stats %+v, want 1 published in 1 batch", st)
	}
}

// TestRunTwiceAndShutdown: of two concurrent Runs on one relay, one is refused; the other
// returns nil once its context is cancelled.
func TestRunTwiceAndShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	relay, err := outbox.NewRelay(e.pool, e.js, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- relay.Run(ctx) }()
	}
	if err := <-results; !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("first Run to return gave %v, want FailedPrecondition (already running)", err)
	}
	cancel()
	if err := <-results; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}
