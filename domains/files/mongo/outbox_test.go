package mongo_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	drv "go.mongodb.org/mongo-driver/v2/mongo"
	"google.golang.org/protobuf/proto"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/mongo"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/testinfra"
)

// waitLimit keeps a broken test from hanging; nothing asserts on durations.
const waitLimit = 60 * time.Second

// eventStream starts NATS with files.file-events.v1 provisioned.
func eventStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	js := testinfra.StartNATS(t).JetStream(t)
	if _, err := dataproduct.Provision(context.Background(), js, stream.FileEvents); err != nil {
		t.Fatal(err)
	}
	return js
}

func newRelay(s *mongo.Store, js jetstream.JetStream) *mongo.Relay {
	return mongo.NewRelay(s, js, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// drain runs r until it finds nothing to publish and returns how many events it published.
func drain(t *testing.T, r *mongo.Relay) int {
	t.Helper()
	total := 0
	deadline := time.Now().Add(waitLimit)
	for {
		n, err := r.Once(context.Background())
		total += n
		switch {
		case err != nil && time.Now().After(deadline):
			t.Fatalf("relay: %v", err)
		case err != nil:
			time.Sleep(50 * time.Millisecond)
		case n == 0:
			return total
		}
	}
}

// published is what files.file-events.v1 holds: the kinds of each file's events in stream
// order, and every message's Nats-Msg-Id.
func published(t *testing.T, js jetstream.JetStream) (map[string][]stream.Kind, []string) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream.FileEvents.Descriptor().GetStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string][]stream.Kind{}
	var ids []string
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		var ev filesv1.FileEvent
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		kinds[ev.GetFileId()] = append(kinds[ev.GetFileId()], ev.GetKind())
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
	}
	return kinds, ids
}

// rawDoc is the stored metadata document of file id, nil if there is none.
func rawDoc(t *testing.T, db *drv.Database, id string) bson.M {
	t.Helper()
	var d bson.M
	err := db.Collection("files").FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if err == drv.ErrNoDocuments {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func count(t *testing.T, db *drv.Database, coll string) int64 {
	t.Helper()
	n, err := db.Collection(coll).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pendingEvents counts the events waiting in the file documents.
func pendingEvents(t *testing.T, db *drv.Database) int {
	t.Helper()
	cur, err := db.Collection("files").Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Outbox []bson.Raw `bson:"outbox"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range docs {
		n += len(d.Outbox)
	}
	return n
}

func share(t *testing.T, s *mongo.Store, id, with string) {
	t.Helper()
	if _, err := s.Update(context.Background(), alice, id, stream.Shared, func(f *file.File, now time.Time) error {
		return f.AddShare(file.Share{UserID: with, Expires: now.Add(time.Hour)}, now)
	}); err != nil {
		t.Fatalf("share %s: %v", id, err)
	}
}

// TestEventsSurviveACrash: a change's event is committed inside the file's document by the
// same write; a process that stops before relaying loses nothing, and the relay of a new
// process publishes each event exactly once, in order, even when the old relay had already
// published one without removing it.
func TestEventsSurviveACrash(t *testing.T) {
	ctx := context.Background()
	k := kek(t, 1)
	s, db := newStore(t, k)
	js := eventStream(t)
	f := upload(t, s, alice, "a", []byte("x"))
	share(t, s, f.ID, "bob")
	announced, err := s.Create(ctx, alice, mongo.Meta{Name: "q"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// No relay has run: the events are in the documents, none in the old collection.
	if n := count(t, db, "outbox"); n != 0 {
		t.Fatalf("%d events in the outbox collection", n)
	}
	var d struct {
		Outbox []bson.Raw `bson:"outbox"`
	}
	if err := db.Collection("files").FindOne(ctx, bson.D{{Key: "_id", Value: f.ID}}).Decode(&d); err != nil || len(d.Outbox) != 2 {
		t.Fatalf("document holds %d events (%v), want 2", len(d.Outbox), err)
	}
	// The old process's relay published the first event, then crashed before removing it.
	var first struct {
		Subject string              `bson:"subject"`
		Header  map[string][]string `bson:"header"`
		Data    []byte              `bson:"data"`
	}
	if err := bson.Unmarshal(d.Outbox[0], &first); err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: first.Subject, Header: nats.Header(first.Header), Data: first.Data}); err != nil {
		t.Fatal(err)
	}

	s2 := mongo.New(db, k, mongo.Limits{MaxSize: 200 << 20, Quota: 1 << 30})
	if n := drain(t, newRelay(s2, js)); n != 3 {
		t.Fatalf("the new relay published %d events, want 3", n)
	}
	kinds, ids := published(t, js)
	if want := []stream.Kind{stream.Stored, stream.Shared}; !slices.Equal(kinds[f.ID], want) {
		t.Fatalf("events of %s: %v, want %v", f.ID, kinds[f.ID], want)
	}
	if want := []stream.Kind{stream.Uploaded}; !slices.Equal(kinds[announced.ID], want) {
		t.Fatalf("events of %s: %v, want %v", announced.ID, kinds[announced.ID], want)
	}
	if len(ids) != 3 {
		t.Fatalf("%d messages in the stream, want 3", len(ids))
	}
	if _, ok := rawDoc(t, db, f.ID)["outbox"]; ok {
		t.Fatal("the relayed events are still in the document")
	}
	if n := drain(t, newRelay(s2, js)); n != 0 {
		t.Fatalf("a second relay published %d events", n)
	}
	if got, err := s2.Get(ctx, alice, f.ID); err != nil || len(got.Shares) != 1 {
		t.Fatalf("file after relaying: %+v, %v", got, err)
	}
}

// TestRemovedFilesAreGoneBeforeTheRelay: an expired or purged file disappears from every read
// at once, its content is deleted, its event waits in its document, and the relay publishes
// the event and then deletes the document.
func TestRemovedFilesAreGoneBeforeTheRelay(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	s, db := newStore(t, kek(t, 1), mongo.WithClock(func() time.Time { return now }))
	js := eventStream(t)
	pending, err := s.Upload(ctx, alice, mongo.Meta{Name: "p", Size: 3, IdempotencyKey: "k"}, bytes.NewReader([]byte("abc")))
	if err != nil {
		t.Fatal(err)
	}
	deleted := upload(t, s, alice, "d", []byte("gone"))
	if _, err := s.Update(ctx, alice, deleted.ID, stream.Deleted, (*file.File).Delete); err != nil {
		t.Fatal(err)
	}
	kept := upload(t, s, alice, "k", []byte("kept"))
	now = now.Add(2 * time.Hour)
	expired, purged, err := s.Sweep(ctx, time.Hour, time.Hour)
	if err != nil || expired != 1 || purged != 1 {
		t.Fatalf("sweep: %d expired, %d purged, %v", expired, purged, err)
	}

	// Before the relay runs: the documents are there, the files are not.
	if n := count(t, db, "files"); n != 3 {
		t.Fatalf("%d documents, want 3 (two removed, waiting for the relay)", n)
	}
	for _, id := range []string{pending.ID, deleted.ID} {
		if _, err := s.Get(ctx, file.System, id); !errs.Is(err, errs.NotFound) {
			t.Fatalf("get removed %s: %v", id, err)
		}
		if _, _, err := s.Open(ctx, file.System, id); !errs.Is(err, errs.NotFound) {
			t.Fatalf("open removed %s: %v", id, err)
		}
		if _, err := s.Update(ctx, file.System, id, stream.Stored, (*file.File).Store); !errs.Is(err, errs.NotFound) {
			t.Fatalf("update removed %s: %v", id, err)
		}
		if _, err := s.PutContent(ctx, id, 10, true, bytes.NewReader([]byte("late"))); !errs.Is(err, errs.NotFound) {
			t.Fatalf("put content into removed %s: %v", id, err)
		}
	}
	page, _, err := s.List(ctx, file.System, 10, "", true)
	if err != nil || len(page) != 1 || page[0].ID != kept.ID {
		t.Fatalf("list with deleted: %d files (%v), want only %s", len(page), err, kept.ID)
	}
	if used, err := s.Usage(ctx, alice.Subject); err != nil || used != kept.Size {
		t.Fatalf("usage %d (%v), want %d", used, err, kept.Size)
	}
	if n := count(t, db, "content.files"); n != 1 {
		t.Fatalf("%d GridFS files, want 1: removed content is deleted at once", n)
	}
	// The idempotency key of the expired upload no longer returns it.
	again, err := s.Upload(ctx, alice, mongo.Meta{Name: "p", Size: 3, IdempotencyKey: "k"}, bytes.NewReader([]byte("abc")))
	if err != nil || again.ID == pending.ID {
		t.Fatalf("retry with the expired file's key: %v, %v", again, err)
	}
	// A second sweep removes nothing twice.
	if e, p, err := s.Sweep(ctx, time.Hour, time.Hour); err != nil || e != 0 || p != 0 {
		t.Fatalf("second sweep: %d expired, %d purged, %v", e, p, err)
	}

	if n := drain(t, newRelay(s, js)); n != 7 {
		t.Fatalf("relay published %d events, want 7", n)
	}
	kinds, ids := published(t, js)
	for id, want := range map[string][]stream.Kind{
		pending.ID: {stream.Uploaded, stream.Expired},
		deleted.ID: {stream.Stored, stream.Deleted, stream.Purged},
		kept.ID:    {stream.Stored},
		again.ID:   {stream.Uploaded},
	} {
		if !slices.Equal(kinds[id], want) {
			t.Fatalf("events of %s: %v, want %v", id, kinds[id], want)
		}
	}
	if len(ids) != 7 {
		t.Fatalf("%d messages, want 7", len(ids))
	}
	for _, id := range []string{pending.ID, deleted.ID} {
		if rawDoc(t, db, id) != nil {
			t.Fatalf("removed %s still has its document after the relay", id)
		}
	}
	if rawDoc(t, db, kept.ID) == nil || rawDoc(t, db, again.ID) == nil {
		t.Fatal("the relay deleted a live file")
	}
}

// TestSweepFinishesARemovedFile: a removed file whose events were all published but whose
// document and content were not deleted (the relay crashed in between) is finished by Sweep.
func TestSweepFinishesARemovedFile(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t, kek(t, 1))
	f := upload(t, s, alice, "a", []byte("abc"))
	// The state such a crash leaves: removed, no pending event, content still there.
	if _, err := db.Collection("files").UpdateOne(ctx, bson.D{{Key: "_id", Value: f.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "removed", Value: true}}}, {Key: "$unset", Value: bson.D{{Key: "outbox", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, alice, f.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("get removed file: %v", err)
	}
	if e, p, err := s.Sweep(ctx, time.Hour, time.Hour); err != nil || e != 0 || p != 0 {
		t.Fatalf("sweep: %d expired, %d purged, %v", e, p, err)
	}
	if rawDoc(t, db, f.ID) != nil || count(t, db, "content.files") != 0 || count(t, db, "content.chunks") != 0 {
		t.Fatal("the sweep left the removed file's document or content")
	}
}

// TestRelayPublishesTheOldOutbox: events an earlier version left in the `outbox` collection
// are published, before the newer ones, and removed.
func TestRelayPublishesTheOldOutbox(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t, kek(t, 1))
	js := eventStream(t)
	old := &file.File{ID: "0190c0de-0000-7000-8000-000000000001", Name: "old.pdf", OwnerID: "alice", State: file.Stored}
	msg, err := stream.Message(ctx, old, stream.Stored, "alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The layout the previous version wrote.
	if _, err := db.Collection("outbox").InsertOne(ctx, bson.D{{Key: "_id", Value: msg.Header.Get(jetstream.MsgIDHeader)},
		{Key: "subject", Value: msg.Subject}, {Key: "header", Value: msg.Header}, {Key: "data", Value: msg.Data}, {Key: "created", Value: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	f := upload(t, s, alice, "new", []byte("x"))
	if n := drain(t, newRelay(s, js)); n != 2 {
		t.Fatalf("relay published %d events, want 2", n)
	}
	kinds, ids := published(t, js)
	if len(ids) != 2 || ids[0] != msg.Header.Get(jetstream.MsgIDHeader) || !slices.Equal(kinds[old.ID], []stream.Kind{stream.Stored}) ||
		!slices.Equal(kinds[f.ID], []stream.Kind{stream.Stored}) {
		t.Fatalf("published %v %v", ids, kinds)
	}
	if n := count(t, db, "outbox"); n != 0 {
		t.Fatalf("%d events left in the old outbox", n)
	}
}

// TestUpdatesWhileRelaying: changes made by several clients while the relay runs are all
// saved, none conflicts with the relay (it does not touch `updated`), and every change's
// event is published once, after the file's first.
func TestUpdatesWhileRelaying(t *testing.T) {
	s, _ := newStore(t, kek(t, 1))
	js := eventStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- newRelay(s, js).Run(ctx) }()
	defer func() { cancel(); <-done }()
	f := upload(t, s, alice, "a", []byte("x"))
	const clients, shares = 4, 5
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range shares {
				for { // other clients' changes conflict; the relay's must not be the cause forever
					_, err := s.Update(context.Background(), alice, f.ID, stream.Shared, func(f *file.File, now time.Time) error {
						return f.AddShare(file.Share{UserID: fmt.Sprintf("user%d-%d", c, i), Expires: now.Add(time.Hour)}, now)
					})
					if err == nil {
						break
					}
					if !errs.Is(err, errs.Conflict) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	got, err := s.Get(context.Background(), alice, f.ID)
	if err != nil || len(got.Shares) != clients*shares {
		t.Fatalf("%d shares saved (%v), want %d", len(got.Shares), err, clients*shares)
	}
	want := clients*shares + 1
	deadline := time.Now().Add(waitLimit)
	for {
		kinds, ids := published(t, js)
		if len(kinds[f.ID]) >= want {
			if n := len(slices.Compact(slices.Sorted(slices.Values(ids)))); len(kinds[f.ID]) != want || n != len(ids) {
				t.Fatalf("%d events published for %d changes, %d distinct ids", len(kinds[f.ID]), want, n)
			}
			if kinds[f.ID][0] != stream.Stored || slices.ContainsFunc(kinds[f.ID][1:], func(k stream.Kind) bool { return k != stream.Shared }) {
				t.Fatalf("events out of order: %v", kinds[f.ID])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events published", len(kinds[f.ID]), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
