package partition_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
)

// TestBatchesDeadLetterOnlyTheBadEvents: a batch handler that fails on a batch holding a bad
// event has the batch redelivered one event at a time, so the bad event (Permanent) and a
// malformed one are dead-lettered — naming the product stream's subject and sequence, as
// Subscribe would — and every other event is handled once, in key order.
func TestBatchesDeadLetterOnlyTheBadEvents(t *testing.T) {
	t.Parallel()
	const parts, keys, events = 2, 4, 40
	e := setup(t)
	e.publish(keys, events/2, 0)
	bad, err := e.pub.Publish(e.ctx, "machine-1", wrapperspb.String("not an index"))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := e.p.Subject("machine-2")
	if err != nil {
		t.Fatal(err)
	}
	malformed := nats.NewMsg(subject)
	malformed.Header.Set(dataproduct.HeaderSpecVersion, dataproduct.SpecVersion)
	malformed.Header.Set(dataproduct.HeaderID, "malformed-1")
	malformed.Header.Set(dataproduct.HeaderType, "mesh.Other")
	malformed.Data = []byte("x")
	badMalformed, err := e.js.PublishMsg(e.ctx, malformed)
	if err != nil {
		t.Fatal(err)
	}
	e.publish(keys, events/2, events/2)

	rec := newRecorder()
	one := rec.handler("a", parts, nil)
	var mu sync.Mutex
	batches, largest := 0, 0
	h := func(ctx context.Context, evs []*dataproduct.Event) error {
		// All or nothing, like a transaction: check every event before recording any.
		for _, ev := range evs {
			v := ev.Message.(*wrapperspb.StringValue).GetValue()
			if !strings.HasPrefix(v, ev.Key+"/") {
				return dataproduct.Permanent(errors.New("bad value " + v))
			}
		}
		for _, ev := range evs {
			if err := one(ctx, ev); err != nil {
				return err
			}
		}
		mu.Lock()
		batches++
		largest = max(largest, len(evs))
		mu.Unlock()
		return nil
	}
	g, err := partition.JoinBatches(e.ctx, e.js, e.p, fast("a", parts), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Leave(context.Background()) })
	waitFor(t, "every good event handled", func() bool { return rec.distinct() == events })

	dlq := deadLetters(t, e, 2)
	for _, want := range []*jetstream.PubAck{bad, badMalformed} {
		seq := strconv.FormatUint(want.Sequence, 10)
		m, ok := dlq[seq]
		if !ok {
			t.Fatalf("no dead letter for product sequence %s; have %v", seq, dlq)
		}
		if s := m.Header.Get(dataproduct.HeaderDLQStream); s != e.p.StreamName() {
			t.Errorf("dead letter %s names stream %s, want %s", seq, s, e.p.StreamName())
		}
		if id, wantID := m.Header.Get(dataproduct.HeaderMsgID), e.p.DurableName("quality")+":"+e.p.StreamName()+":"+seq; id != wantID {
			t.Errorf("dead letter %s has Nats-Msg-Id %s, want %s", seq, id, wantID)
		}
		if s := m.Header.Get(dataproduct.HeaderDLQSubject); !strings.HasPrefix(s, "dp."+e.p.ID()+".machine-") {
			t.Errorf("dead letter %s names subject %s, want the product's", seq, s)
		}
	}
	rec.onceInOrder(t)
	mu.Lock()
	defer mu.Unlock()
	if largest < 2 {
		t.Errorf("largest batch handled: %d events in %d batches, want batches of several", largest, batches)
	}
}

// deadLetters reads n dead letters of e's product for quality, by product sequence.
func deadLetters(t *testing.T, e *env, n int) map[string]*nats.Msg {
	t.Helper()
	c, err := e.js.OrderedConsumer(e.ctx, dataproduct.DeadLetterStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{e.p.DeadLetterSubject("quality")}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*nats.Msg{}
	for len(out) < n {
		m, err := c.Next(jetstream.FetchMaxWait(waitLimit))
		if err != nil {
			t.Fatalf("dead letters: %d of %d: %v", len(out), n, err)
		}
		out[m.Headers().Get(dataproduct.HeaderDLQSequence)] = &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
	}
	return out
}

// TestFailedBatchIsRetriedInPlace: a batch handler failing twice (not permanently) has the
// same batch again after its backoff, before anything after it: every event is handled once,
// in key order, and nothing is dead-lettered.
func TestFailedBatchIsRetriedInPlace(t *testing.T) {
	t.Parallel()
	const parts, keys, events = 2, 4, 200
	e := setup(t)
	e.publish(keys, events, 0)
	rec := newRecorder()
	one := rec.handler("a", parts, nil)
	var mu sync.Mutex
	failures := 0
	h := func(ctx context.Context, evs []*dataproduct.Event) error {
		mu.Lock()
		fail := failures < 2
		if fail {
			failures++
		}
		mu.Unlock()
		if fail {
			return errors.New("transient")
		}
		for _, ev := range evs {
			if err := one(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	}
	g, err := partition.JoinBatches(e.ctx, e.js, e.p, fast("a", parts), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Leave(context.Background()) })
	waitFor(t, "every event handled", func() bool { return rec.distinct() == events })
	rec.onceInOrder(t)
	mu.Lock()
	defer mu.Unlock()
	if failures != 2 {
		t.Fatalf("%d failed batches, want 2: the test retried nothing", failures)
	}
}

// onceInOrder fails t unless every event recorded was handled once, each key's in order.
func (r *recorder) onceInOrder(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.seen {
		if n != 1 {
			t.Errorf("event %s handled %d times", id, n)
		}
	}
	if len(r.disorder) > 0 {
		t.Errorf("per-key order broken: %v", r.disorder)
	}
}
