package outbox_test

import (
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/localserver"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/testinfra"
)

// TestNATSServerDown: with the server stopped the row records its failed attempts; once the
// server is back (same port, same store) the event is published once.
func TestNATSServerDown(t *testing.T) {
	t.Parallel()
	pool := testinfra.StartPostgres(t).Pool(t)
	if err := outbox.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	// testinfra cannot restart a server on its port, so this test drives localserver directly.
	dir := t.TempDir()
	srv, err := localserver.StartNATS(localserver.NATSOptions{Dir: dir, MonitorPort: -1, MQTTPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s := createStream(t, js)
	e := env{pool: pool, js: js}

	srv.Shutdown()
	enqueue(t, pool, event("ev-down", "dp.test.things.v1.k1", []byte("x")))
	r := start(t, e, fastConfig())
	waitFor(t, "two failed attempts while NATS is down", func() (bool, error) {
		return readRow(t, pool, "ev-down").Attempts >= 2, nil
	})
	if rw := readRow(t, pool, "ev-down"); rw.LastError == "" || rw.PublishedAt != nil || rw.Parked {
		t.Fatalf("row %+v, want an error recorded and the event waiting", rw)
	}

	srv2, err := localserver.StartNATS(localserver.NATSOptions{Dir: dir, Port: port, MonitorPort: -1, MQTTPort: -1})
	if err != nil {
		t.Fatalf("restart NATS on port %d: %v", port, err)
	}
	t.Cleanup(func() { srv2.Shutdown() })
	waitFor(t, "the event once NATS is back", drained(t, pool))
	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"ev-down"}) {
		t.Fatalf("stream holds %q, want the event once", got)
	}
	if st := r.relay.Stats(); st.Published != 1 || st.Failed < 2 {
		t.Errorf("stats %+v, want >= 2 failures then 1 published", st)
	}
}

// TestUnansweredPublishIsParked: a subscriber that never answers makes every publish time
// out, so the event may be stored; the relay retries it only inside the duplicate window,
// then parks it. Requeue releases it, in order before the later event of its subject.
func TestUnansweredPublishIsParked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	nc := e.nats.Connect(t)
	sub, err := nc.Subscribe("dp.test.>", func(*nats.Msg) {}) // swallows requests, answers none
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, e.pool, event("ev-limbo", "dp.test.things.v1.k1", []byte("x")),
		event("ev-after", "dp.test.things.v1.k1", []byte("y")))

	cfg := outbox.RelayConfig{
		DuplicateWindow: 4 * time.Second, // Horizon is 1.3s: in-doubt retries for 2.7s
		ClaimTimeout:    400 * time.Millisecond,
		PublishTimeout:  100 * time.Millisecond,
		PollInterval:    50 * time.Millisecond,
		RetryBackoff:    50 * time.Millisecond,
		MaxRetryBackoff: 200 * time.Millisecond,
	}
	r := start(t, e, cfg)
	waitFor(t, "the event to be parked", func() (bool, error) {
		return readRow(t, e.pool, "ev-limbo").Parked, nil
	})
	rw := readRow(t, e.pool, "ev-limbo")
	if !rw.InDoubt || rw.Attempts < 2 || rw.PublishedAt != nil {
		t.Fatalf("parked row %+v, want in doubt after retries, unpublished", rw)
	}
	if rw := readRow(t, e.pool, "ev-after"); rw.Attempts != 0 || rw.PublishedAt != nil {
		t.Fatalf("the later event of the subject went ahead: %+v", rw)
	}
	b, err := outbox.Tables{}.Backlog(t.Context(), e.pool)
	if err != nil || b.Parked != 1 || b.Pending != 2 {
		t.Fatalf("backlog %+v, %v; want 2 pending, 1 parked", b, err)
	}
	if st := r.relay.Stats(); st.Parked != 1 {
		t.Errorf("stats %+v, want 1 parked", st)
	}

	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	s := createStream(t, e.js)
	if err := (outbox.Tables{}).Requeue(t.Context(), e.pool, "ev-limbo"); err != nil {
		t.Fatalf("Requeue: %v", err)
	}
	waitFor(t, "both events after Requeue", drained(t, e.pool))
	if got := ids(streamMsgs(t, s)); !slices.Equal(got, []string{"ev-limbo", "ev-after"}) {
		t.Fatalf("stream holds %q, want ev-limbo then ev-after", got)
	}
}
