package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// window is the test streams' duplicate window, and the relays' DuplicateWindow.
const window = 2 * time.Minute

// env is one test's database (migrated) and NATS server.
type env struct {
	pool *pgxpool.Pool
	nats *testinfra.NATS
	js   jetstream.JetStream
}

func newEnv(t testing.TB) env {
	t.Helper()
	pool := testinfra.StartPostgres(t).Pool(t)
	if err := outbox.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	n := testinfra.StartNATS(t)
	return env{pool: pool, nats: n, js: n.JetStream(t)}
}

// createStream provisions the test stream over dp.test.> with the duplicate window.
func createStream(t testing.TB, js jetstream.JetStream, mutate ...func(*jetstream.StreamConfig)) jetstream.Stream {
	t.Helper()
	cfg := jetstream.StreamConfig{Name: "TEST", Subjects: []string{"dp.test.>"}, Duplicates: window}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := js.CreateOrUpdateStream(t.Context(), cfg)
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return s
}

// event builds a message the way dataproduct does: Nats-Msg-Id = ce-id = id.
func event(id, subject string, payload []byte) *nats.Msg {
	h := nats.Header{}
	h.Set(nats.MsgIdHdr, id)
	h.Set("ce-id", id)
	h.Set("ce-specversion", "1.0")
	h.Set("content-type", "application/protobuf")
	return &nats.Msg{Subject: subject, Header: h, Data: payload}
}

// enqueue commits msgs in one transaction.
func enqueue(t testing.TB, pool *pgxpool.Pool, msgs ...*nats.Msg) {
	t.Helper()
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		for _, m := range msgs {
			if err := outbox.Enqueue(t.Context(), tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

// fastConfig is a relay config with short intervals, inside window.
func fastConfig() outbox.RelayConfig {
	return outbox.RelayConfig{
		DuplicateWindow: window,
		ClaimTimeout:    2 * time.Second,
		PublishTimeout:  500 * time.Millisecond,
		PollInterval:    50 * time.Millisecond,
		RetryBackoff:    50 * time.Millisecond,
		MaxRetryBackoff: 200 * time.Millisecond,
	}
}

// running is a relay started by start.
type running struct {
	relay  *outbox.Relay
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
}

// start runs a new relay until stop (or t's cleanup).
func start(t testing.TB, e env, cfg outbox.RelayConfig) *running {
	t.Helper()
	relay, err := outbox.NewRelay(e.pool, e.js, cfg)
	if err != nil {
		t.Fatalf("NewRelay: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{relay: relay, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = relay.Run(ctx)
	}()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// wait returns Run's result once it has returned.
func (r *running) wait() error {
	<-r.done
	return r.err
}

// stop cancels the relay and returns Run's result.
func (r *running) stop() error {
	r.cancel()
	return r.wait()
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drained reports whether the outbox has no unpublished events.
func drained(t testing.TB, pool *pgxpool.Pool) func() (bool, error) {
	return func() (bool, error) {
		b, err := outbox.Tables{}.Backlog(t.Context(), pool)
		return b.Pending == 0, err
	}
}

// row is an outbox row's bookkeeping, read directly for assertions.
type row struct {
	Attempts    int
	LastError   string
	InDoubt     bool
	Parked      bool
	PublishedAt *time.Time
}

func readRow(t testing.TB, pool *pgxpool.Pool, id string) row {
	t.Helper()
	var r row
	err := pool.QueryRow(t.Context(), `SELECT attempts, COALESCE(last_error, ''), in_doubt_since IS NOT NULL,
		parked_at IS NOT NULL, published_at FROM outbox_events WHERE event_id = $1`, id).
		Scan(&r.Attempts, &r.LastError, &r.InDoubt, &r.Parked, &r.PublishedAt)
	if err != nil {
		t.Fatalf("read outbox row %s: %v", id, err)
	}
	return r
}

// streamMsgs returns every message in s, in stream order.
func streamMsgs(t testing.TB, s jetstream.Stream) []*jetstream.RawStreamMsg {
	t.Helper()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// ids lists the Nats-Msg-Id of msgs.
func ids(msgs []*jetstream.RawStreamMsg) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Header.Get(nats.MsgIdHdr)
	}
	return out
}

// eventID numbers test events.
func eventID(prefix string, i int) string { return fmt.Sprintf("%s-%04d", prefix, i) }
