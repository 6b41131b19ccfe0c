package mongo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/stream"
)

// The outbox. platform/outbox is Postgres-only, and FerretDB has no multi-document
// transactions, so the event document is written right after the metadata change, in the
// same call, not in the same transaction. Guarantee: every change whose call returned nil has
// its event in the outbox, and the relay publishes each outbox event at least once
// (Nats-Msg-Id = event id, so JetStream drops re-publications within the duplicate window).
// A crash between the two writes loses that one event; no event is ever written for a
// change that did not happen (the change is written first).

type outboxDoc struct {
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

func (s *Store) enqueue(ctx context.Context, f *file.File, k stream.Kind, actor string) error {
	msg, err := stream.Message(ctx, f, k, actor, s.now())
	if err != nil {
		return err
	}
	_, err = s.outbox.InsertOne(context.WithoutCancel(ctx), outboxDoc{
		ID: msg.Header.Get(jetstream.MsgIDHeader), Subject: msg.Subject, Header: msg.Header, Data: msg.Data, Created: s.now(),
	})
	if err != nil {
		return fmt.Errorf("mongo.Store.enqueue: %w", err)
	}
	return nil
}

// record audits action (e.g. "read") on file id by p.
func (s *Store) record(ctx context.Context, p file.Principal, id, action string) error {
	_, err := s.audit.InsertOne(ctx, auditDoc{At: s.now(), Actor: p.Subject, Roles: p.Roles, FileID: id, Action: action})
	if err != nil {
		return fmt.Errorf("mongo.Store.record: %w", err)
	}
	return nil
}

// Relay publishes outbox events to JetStream in the order they were written and deletes them
// once acknowledged.
type Relay struct {
	s    *Store
	js   jetstream.JetStream
	log  *slog.Logger
	idle time.Duration
}

// NewRelay returns a relay of s's outbox to js.
func NewRelay(s *Store, js jetstream.JetStream, log *slog.Logger) *Relay {
	return &Relay{s: s, js: js, log: log, idle: 250 * time.Millisecond}
}

// Run relays until ctx ends, then returns nil. Publishing errors are logged and retried.
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
			case <-time.After(r.idle):
			}
		}
	}
}

// Once relays up to 100 events and returns how many it published.
func (r *Relay) Once(ctx context.Context) (int, error) {
	cur, err := r.s.outbox.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(100))
	if err != nil {
		return 0, fmt.Errorf("mongo.Relay: %w", err)
	}
	var docs []outboxDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("mongo.Relay: %w", err)
	}
	n := 0
	for _, d := range docs {
		msg := &nats.Msg{Subject: d.Subject, Header: nats.Header(d.Header), Data: d.Data}
		if _, err := r.js.PublishMsg(ctx, msg); err != nil {
			return n, fmt.Errorf("mongo.Relay: publish %s: %w", d.ID, err)
		}
		if _, err := r.s.outbox.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}}); err != nil {
			return n, fmt.Errorf("mongo.Relay: %w", err)
		}
		n++
	}
	return n, nil
}
