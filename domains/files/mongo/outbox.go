package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/stream"
)

// The outbox. platform/outbox is Postgres-only and FerretDB has no multi-document
// transactions, so a change's events live in the changed file's own metadata document, in the
// array `outbox`, written by the same single-document insert or update as the change itself.
// A removal (expiry, purge) cannot delete the document that carries its event, so it marks
// the document removed (every read treats it as gone) and pushes the event in the same update;
// the relay deletes the content and the document once the document's last event is published.
//
// Guarantee: a change is committed if and only if its event is; the relay publishes every
// event at least once, in commit order per file (Nats-Msg-Id = event id, so JetStream drops
// re-publications within the stream's duplicate window), and removes exactly that event with
// $pull, leaving `updated` alone so that Update does not conflict with it. A crash at any point
// loses no event: the relay picks up every document with events, and Sweep finishes removed
// documents whose events were all published.
//
// This rests on each update of one document being atomic. MongoDB guarantees it; FerretDB 1.x
// (tests, `make run`) does not (see Store.lock), so the store serialises its writes per
// document within the process. Several processes writing one FerretDB database at once could
// still lose a concurrent change with its event; run one files process per FerretDB database.
//
// Events written by earlier versions to the `outbox` collection are still relayed, before the
// events in file documents, so an upgrade loses none of them.

// event is a pending event inside a file document's `outbox` array.
type event struct {
	ID      string              `bson:"id"`
	Subject string              `bson:"subject"`
	Header  map[string][]string `bson:"header"`
	Data    []byte              `bson:"data"`
	Created time.Time           `bson:"created"`
}

// legacyEvent is an event document of the `outbox` collection (written before the events
// moved into file documents).
type legacyEvent struct {
	ID      string              `bson:"_id"`
	Subject string              `bson:"subject"`
	Header  map[string][]string `bson:"header"`
	Data    []byte              `bson:"data"`
	Created time.Time           `bson:"created"`
}

type auditDoc struct {
	At     time.Time `bson:"at"`
	Actor  string    `bson:"actor"`
	Roles  []string  `bson:"roles,omitempty"`
	FileID string    `bson:"file_id"`
	Action string    `bson:"action"`
}

// hasEvents matches the file documents with pending events.
var hasEvents = bson.E{Key: "outbox.id", Value: bson.D{{Key: "$exists", Value: true}}}

// newEvent builds the event of transition k of f by actor, to be written with the change.
func (s *Store) newEvent(ctx context.Context, f *file.File, k stream.Kind, actor string) (event, error) {
	msg, err := stream.Message(ctx, f, k, actor, s.now())
	if err != nil {
		return event{}, err
	}
	return event{ID: msg.Header.Get(jetstream.MsgIDHeader), Subject: msg.Subject, Header: msg.Header, Data: msg.Data, Created: s.now()}, nil
}

// record audits action (e.g. "read") on file id by p.
func (s *Store) record(ctx context.Context, p file.Principal, id, action string) error {
	_, err := s.audit.InsertOne(ctx, auditDoc{At: s.now(), Actor: p.Subject, Roles: p.Roles, FileID: id, Action: action})
	if err != nil {
		return fmt.Errorf("mongo.Store.record: %w", err)
	}
	return nil
}

// Relay publishes the outbox events to JetStream, each file's in the order they were
// committed, and removes each once acknowledged; it deletes removed files once their last
// event is published.
type Relay struct {
	s    *Store
	js   jetstream.JetStream
	log  *slog.Logger
	idle time.Duration
}

// NewRelay returns a relay of s's outbox to js.
func NewRelay(s *Store, js jetstream.JetStream, log *slog.Logger) *Relay {
	return &Relay{s: s, js: js, log: log, idle: 5 * time.Second}
}

// Run relays until ctx ends, then returns nil. Publishing errors are logged and retried.
// When idle it waits for the store to signal a committed event, and looks anyway every 5 s
// (events another process or a crashed run left, retries after a failure): finding documents
// with events is a scan of the collection on FerretDB, which ignores the sparse index, so it
// is not repeated while nothing is written.
func (r *Relay) Run(ctx context.Context) error {
	for {
		n, err := r.Once(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "outbox relay", "err", err)
		}
		if n == 0 || err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-r.s.written:
			case <-time.After(r.idle):
			}
		}
	}
}

// Once relays the pending events of up to 100 file documents (after up to 100 events of the
// legacy `outbox` collection) and returns how many it published.
func (r *Relay) Once(ctx context.Context) (int, error) {
	n, err := r.legacy(ctx)
	if err != nil || n > 0 {
		return n, err
	}
	cur, err := r.s.meta.Find(ctx, bson.D{hasEvents}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(100).
		SetProjection(bson.D{{Key: "outbox", Value: 1}, {Key: "removed", Value: 1}, {Key: "content_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("mongo.Relay: %w", err)
	}
	var docs []pendingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("mongo.Relay: %w", err)
	}
	for _, d := range docs {
		k, err := r.relayDoc(ctx, d)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// pendingDoc is what the relay reads of a file document with events. Events are read raw:
// each is pulled by its exact stored value, which FerretDB's $pull supports (it does not
// support $pull with a query such as {id: …}). Ids are unique, so the value identifies exactly
// one event.
type pendingDoc struct {
	ID        string     `bson:"_id"`
	Outbox    []bson.Raw `bson:"outbox"`
	Removed   bool       `bson:"removed"`
	ContentID string     `bson:"content_id"`
}

// relayDoc publishes d's events in order, removing each once published, then finishes d if it
// is removed; it returns how many it published.
func (r *Relay) relayDoc(ctx context.Context, d pendingDoc) (int, error) {
	for i, raw := range d.Outbox {
		var e event
		if err := bson.Unmarshal(raw, &e); err != nil {
			return i, fmt.Errorf("mongo.Relay: file %s: %w", d.ID, err)
		}
		if err := r.publish(ctx, e.ID, e.Subject, e.Header, e.Data); err != nil {
			return i, err
		}
		// $pull leaves `updated` alone, so a concurrent Update does not conflict.
		unlock := r.s.lock(d.ID)
		_, err := r.s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, bson.D{{Key: "$pull", Value: bson.D{{Key: "outbox", Value: raw}}}})
		unlock()
		if err != nil {
			return i, fmt.Errorf("mongo.Relay: %w", err)
		}
	}
	n := len(d.Outbox)
	if d.Removed {
		if err := r.s.finish(ctx, d.ID, d.ContentID); err != nil {
			return n, fmt.Errorf("mongo.Relay: %w", err)
		}
		return n, nil
	}
	// Drop the emptied array (unless an event was pushed meanwhile), so documents without
	// pending events carry no `outbox` field and stay out of the sparse index.
	unlock := r.s.lock(d.ID)
	_, err := r.s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "outbox", Value: bson.A{}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "outbox", Value: ""}}}})
	unlock()
	if err != nil {
		return n, fmt.Errorf("mongo.Relay: %w", err)
	}
	return n, nil
}

// legacy relays up to 100 events of the `outbox` collection, oldest first.
func (r *Relay) legacy(ctx context.Context) (int, error) {
	cur, err := r.s.legacy.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(100))
	if err != nil {
		return 0, fmt.Errorf("mongo.Relay: %w", err)
	}
	var docs []legacyEvent
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("mongo.Relay: %w", err)
	}
	n := 0
	for _, d := range docs {
		if err := r.publish(ctx, d.ID, d.Subject, d.Header, d.Data); err != nil {
			return n, err
		}
		if _, err := r.s.legacy.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}}); err != nil {
			return n, fmt.Errorf("mongo.Relay: %w", err)
		}
		n++
	}
	return n, nil
}

func (r *Relay) publish(ctx context.Context, id, subject string, header map[string][]string, data []byte) error {
	if _, err := r.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: nats.Header(header), Data: data}); err != nil {
		return fmt.Errorf("mongo.Relay: publish %s: %w", id, err)
	}
	return nil
}

// finish deletes removed file id's content, then its document if no event is pending. Both
// steps are idempotent, so the relay and Sweep may both run it after a crash.
func (s *Store) finish(ctx context.Context, id, contentID string) error {
	if contentID != "" {
		if err := s.bucket.Delete(ctx, contentID); err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
			return err
		}
	}
	defer s.lock(id)()
	_, err := s.meta.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "removed", Value: true}, {Key: "outbox.id", Value: bson.D{{Key: "$exists", Value: false}}}})
	return err
}
