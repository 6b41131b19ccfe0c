package dataproduct_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// waitLimit keeps a broken test from hanging; no test asserts on durations.
const waitLimit = 30 * time.Second

var productSeq atomic.Int64

// newProduct declares a product with a name unique in the test binary.
func newProduct() dataproduct.Product {
	return dataproduct.Product{
		Domain:         "test",
		Name:           "product-" + strconv.FormatInt(productSeq.Add(1), 10),
		Major:          1,
		Owner:          "platform-team",
		Contact:        "platform@example.com",
		Description:    "test events",
		Message:        &wrapperspb.StringValue{},
		Classification: dataproduct.ClassInternal,
	}
}

// env is one test's server, JetStream context and provisioned product.
type env struct {
	t    *testing.T
	ctx  context.Context
	nats *testinfra.NATS
	js   jetstream.JetStream
	p    dataproduct.Product
	log  *slog.Logger
}

// setup starts a NATS server and provisions a fresh product on it.
func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	t.Cleanup(cancel)
	n := testinfra.StartNATS(t)
	e := &env{t: t, ctx: ctx, nats: n, js: n.JetStream(t), p: newProduct(), log: testLogger(t)}
	if _, err := dataproduct.Provision(ctx, e.js, e.p); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return e
}

// publisher returns a Publisher of e.p, closed at cleanup.
func (e *env) publisher() *dataproduct.Publisher {
	e.t.Helper()
	pub, err := dataproduct.NewPublisher(e.js, e.p)
	if err != nil {
		e.t.Fatalf("NewPublisher: %v", err)
	}
	e.t.Cleanup(func() { _ = pub.Close(context.Background()) })
	return pub
}

// publish sends one StringValue on key and returns its stream sequence.
func (e *env) publish(pub *dataproduct.Publisher, key, value string, opts ...dataproduct.PublishOption) uint64 {
	e.t.Helper()
	ack, err := pub.Publish(e.ctx, key, wrapperspb.String(value), opts...)
	if err != nil {
		e.t.Fatalf("Publish(%s, %s): %v", key, value, err)
	}
	return ack.Sequence
}

// subscribe starts a Subscription whose handler is h, stopped at cleanup.
func (e *env) subscribe(cfg dataproduct.ConsumerConfig, h dataproduct.Handler) *dataproduct.Subscription {
	e.t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = e.log
	}
	sub, err := dataproduct.Subscribe(e.ctx, e.js, e.p, cfg, h)
	if err != nil {
		e.t.Fatalf("Subscribe: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = sub.Stop(ctx)
	})
	return sub
}

// recv returns the next event from ch.
func (e *env) recv(ch <-chan *dataproduct.Event) *dataproduct.Event {
	e.t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(waitLimit):
		e.t.Fatalf("no event within %s", waitLimit)
		return nil
	}
}

// deadLetters returns a reader of the dead-letter subject for consumerDomain.
func (e *env) deadLetters(consumerDomain string) func() jetstream.Msg {
	e.t.Helper()
	c, err := e.js.OrderedConsumer(e.ctx, dataproduct.DeadLetterStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{e.p.DeadLetterSubject(consumerDomain)},
	})
	if err != nil {
		e.t.Fatalf("dead-letter consumer: %v", err)
	}
	return func() jetstream.Msg {
		e.t.Helper()
		ctx, cancel := context.WithTimeout(e.ctx, waitLimit)
		defer cancel()
		for ctx.Err() == nil {
			msg, err := c.Next(jetstream.FetchMaxWait(time.Second))
			if err == nil {
				return msg
			}
		}
		e.t.Fatalf("nothing on %s within %s", e.p.DeadLetterSubject(consumerDomain), waitLimit)
		return nil
	}
}

// sendTo returns a handler that passes every event to ch and then returns err.
func sendTo(ch chan<- *dataproduct.Event, err error) dataproduct.Handler {
	return func(ctx context.Context, ev *dataproduct.Event) error {
		ch <- ev
		return err
	}
}

// testLogger writes to t's output until t ends, then discards: consumers may log from
// their goroutines after the test body returns.
func testLogger(t *testing.T) *slog.Logger {
	w := &lateWriter{w: t.Output()}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, nil))
}

type lateWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (l *lateWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *lateWriter) close() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}
