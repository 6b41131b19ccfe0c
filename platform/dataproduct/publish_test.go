package dataproduct_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

func TestProvisionIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	e := setup(t) // provisions once
	e.p.Retention = 48 * time.Hour
	e.p.Tags = []string{"changed"}

	// Provision again, and from four connections at once, with a changed retention.
	var wg sync.WaitGroup
	errCh := make(chan error, 5)
	for i := range 5 {
		js := e.js
		if i > 0 {
			js = e.nats.JetStream(t)
		}
		wg.Go(func() {
			_, err := dataproduct.Provision(e.ctx, js, e.p)
			errCh <- err
		})
	}
	wg.Wait()
	close(errCh)
	for err := range errCh {
		if err != nil {
			t.Fatalf("concurrent Provision: %v", err)
		}
	}

	s, err := e.js.Stream(e.ctx, e.p.StreamName())
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	cfg := s.CachedInfo().Config
	if !slices.Equal(cfg.Subjects, []string{e.p.SubjectFilter()}) || cfg.MaxAge != 48*time.Hour ||
		cfg.Duplicates != dataproduct.DefaultDuplicateWindow || cfg.Replicas != 1 || cfg.Storage != jetstream.FileStorage {
		t.Errorf("stream config = subjects %v max-age %s dup %s replicas %d storage %v", cfg.Subjects, cfg.MaxAge, cfg.Duplicates, cfg.Replicas, cfg.Storage)
	}
	wantMeta := map[string]string{
		dataproduct.MetaOwner:          e.p.Owner,
		dataproduct.MetaDomain:         "test",
		dataproduct.MetaProduct:        e.p.ID(),
		dataproduct.MetaSchemaRef:      e.p.SchemaRef(),
		dataproduct.MetaClassification: "internal",
	}
	for k, v := range wantMeta {
		if cfg.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, cfg.Metadata[k], v)
		}
	}
	dlq, err := e.js.Stream(e.ctx, dataproduct.DeadLetterStream)
	if err != nil {
		t.Fatalf("dead-letter stream: %v", err)
	}
	if got := dlq.CachedInfo().Config; !slices.Equal(got.Subjects, []string{"dlq.>"}) || got.MaxAge != 14*24*time.Hour {
		t.Errorf("DEADLETTER subjects %v max-age %s, want [dlq.>] 336h", got.Subjects, got.MaxAge)
	}
}

func TestProvisionRejectsInvalidProduct(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := newProduct()
	p.Classification = ""
	if _, err := dataproduct.Provision(e.ctx, e.js, p); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Provision = %v, want invalid", err)
	}
	if _, err := e.js.Stream(e.ctx, p.StreamName()); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream of an invalid product: %v, want not found", err)
	}
}

func TestPublishSameEventIDStoredOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	first, err := pub.Publish(e.ctx, "k1", wrapperspb.String("a"), dataproduct.WithEventID("evt-1"))
	if err != nil {
		t.Fatalf("first Publish: %v", err)
	}
	second, err := pub.Publish(e.ctx, "k1", wrapperspb.String("a"), dataproduct.WithEventID("evt-1"))
	if err != nil {
		t.Fatalf("second Publish: %v", err)
	}
	if first.Duplicate || !second.Duplicate || second.Sequence != first.Sequence {
		t.Errorf("acks %+v then %+v: want the second flagged duplicate of the first", first, second)
	}
	// Through NewMessage and a plain relay publish too, as the outbox does.
	m, err := dataproduct.NewMessage(e.ctx, e.p, "k1", wrapperspb.String("a"), dataproduct.WithEventID("evt-1"))
	if err != nil {
		t.Fatalf("NewMessage: %v", err)
	}
	if _, err := e.js.PublishMsg(e.ctx, m); err != nil {
		t.Fatalf("relay publish: %v", err)
	}
	s, err := e.js.Stream(e.ctx, e.p.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestPublishRejectsWrongPayloadType(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	if _, err := pub.Publish(e.ctx, "k", wrapperspb.Int64(1)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Publish(Int64Value) = %v, want invalid", err)
	}
	if err := pub.PublishAsync(e.ctx, "k", wrapperspb.Int64(1)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("PublishAsync(Int64Value) = %v, want invalid", err)
	}
}

func TestPublishAsyncFlush(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub, err := dataproduct.NewPublisher(e.js, e.p, dataproduct.WithMaxPending(8))
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := range n {
		if err := pub.PublishAsync(e.ctx, "k", wrapperspb.String(string(rune('a'+i%26)))); err != nil {
			t.Fatalf("PublishAsync %d: %v", i, err)
		}
	}
	if err := pub.Close(e.ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err := e.js.Stream(e.ctx, e.p.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != n {
		t.Fatalf("stream holds %d messages after Close, want %d", info.State.Msgs, n)
	}
	if err := pub.PublishAsync(e.ctx, "k", wrapperspb.String("late")); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("PublishAsync after Close = %v, want failed precondition", err)
	}
}

// TestPublishAsyncFailureSurfaces publishes to a product whose stream does not exist: every
// event fails, and the failures reach both the error handler and Flush.
func TestPublishAsyncFailureSurfaces(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var (
		mu     sync.Mutex
		failed []string
	)
	unprovisioned := newProduct()
	pub, err := dataproduct.NewPublisher(e.js, unprovisioned, dataproduct.WithErrorHandler(func(m *nats.Msg, err error) {
		mu.Lock()
		failed = append(failed, m.Header.Get(dataproduct.HeaderID))
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"e1", "e2", "e3"} {
		if err := pub.PublishAsync(e.ctx, "k", wrapperspb.String(id), dataproduct.WithEventID(id)); err != nil {
			t.Fatalf("PublishAsync: %v", err)
		}
	}
	ferr := pub.Flush(e.ctx)
	if !errs.Is(ferr, errs.Unavailable) || !errors.Is(ferr, jetstream.ErrNoStreamResponse) {
		t.Fatalf("Flush = %v, want unavailable wrapping %v", ferr, jetstream.ErrNoStreamResponse)
	}
	mu.Lock()
	slices.Sort(failed)
	got := failed
	mu.Unlock()
	if !slices.Equal(got, []string{"e1", "e2", "e3"}) {
		t.Fatalf("error handler saw %v, want [e1 e2 e3]", got)
	}
	if err := pub.Flush(e.ctx); err != nil {
		t.Fatalf("second Flush = %v, want nil (failures are reported once)", err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, waitLimit)
	defer cancel()
	if err := pub.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestProvisionReportsConflict provisions a product whose subjects another stream already
// holds: the server's refusal comes back wrapped, not swallowed.
func TestProvisionReportsConflict(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := newProduct()
	if _, err := e.js.CreateStream(e.ctx, jetstream.StreamConfig{Name: "SQUATTER", Subjects: []string{p.SubjectFilter()}}); err != nil {
		t.Fatal(err)
	}
	_, err := dataproduct.Provision(e.ctx, e.js, p)
	if err == nil || !strings.HasPrefix(err.Error(), "dataproduct.Provision") || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("Provision over a squatted subject = %v, want the server's overlap error", err)
	}
}
