// Package mongo stores files in MongoDB: metadata in the `files` collection, each document
// with its change events not yet relayed to NATS (outbox.go, Relay), sealed content in the
// GridFS bucket `content` and reads in the `audit` collection.
//
// Content is written to GridFS under a fresh content id and the temporary name
// "pending/<file id>"; the metadata points at it only once the size and checksum are right,
// and the GridFS file is then renamed to the file id. A failed or interrupted write aborts
// the GridFS upload (deleting its chunks); a crash in between leaves a "pending/" GridFS file
// that the sweeper deletes after the pending TTL.
package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/errs"
)

// Limits bound what one owner may store.
type Limits struct {
	// MaxSize is the largest file, in bytes.
	MaxSize int64
	// Quota is the most bytes one owner may keep in pending and stored files.
	Quota int64
}

// Store keeps files in one MongoDB database. It is safe for concurrent use.
type Store struct {
	db     *mongo.Database
	meta   *mongo.Collection
	legacy *mongo.Collection // the outbox collection of earlier versions, drained by Relay
	audit  *mongo.Collection
	bucket *mongo.GridFSBucket
	kek    *crypt.KEK
	limits Limits
	now    func() time.Time
	cipher func(fileID string, dk []byte) (crypt.Cipher, error)
	locks  [64]sync.Mutex // see lock
	// written is signalled after a write that stored an event, to wake this process's Relay.
	written chan struct{}
}

// notify wakes the relay: an event was just committed.
func (s *Store) notify() {
	select {
	case s.written <- struct{}{}:
	default:
	}
}

// lock serialises this process's writes to file id's document and returns the unlock.
// FerretDB 1.x (tests, `make run`) applies an update by reading the document, changing it and
// writing it back outside any transaction, checking the filter against what it read: two
// concurrent updates of one document lose one of them (a share, or an event pushed while the
// relay pulls another). MongoDB applies each update atomically and needs no lock; processes
// sharing one FerretDB are not protected by it.
func (s *Store) lock(id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// Option changes a Store.
type Option func(*Store)

// WithClock sets the store's clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithoutEncryption stores content with crypt.Plain: the benchmarks' baseline. Never use it
// for real files.
func WithoutEncryption() Option {
	return func(s *Store) {
		s.cipher = func(string, []byte) (crypt.Cipher, error) { return crypt.Plain{}, nil }
	}
}

// doc is a file's metadata document: the file, its wrapped data key, its events not yet
// relayed and whether it is removed (expired or purged: gone for every reader, its document
// waiting for the relay to publish its last event).
type doc struct {
	file.File  `bson:",inline"`
	KEKID      string  `bson:"kek_id"`
	WrappedKey []byte  `bson:"wrapped_key"`
	ContentID  string  `bson:"content_id,omitempty"`
	Outbox     []event `bson:"outbox,omitempty"`
	Removed    bool    `bson:"removed,omitempty"`
}

// live matches the documents of files that are not removed; every read and write of files
// includes it.
var live = bson.E{Key: "removed", Value: bson.D{{Key: "$ne", Value: true}}}

// noOutbox projects the pending events out of what readers load.
var noOutbox = bson.D{{Key: "outbox", Value: 0}}

// New returns a Store on db, wrapping data keys with kek.
func New(db *mongo.Database, kek *crypt.KEK, limits Limits, opts ...Option) *Store {
	s := &Store{
		db: db, meta: db.Collection("files"), legacy: db.Collection("outbox"), audit: db.Collection("audit"),
		bucket: db.GridFSBucket(options.GridFSBucket().SetName("content").SetChunkSizeBytes(crypt.SealedChunkSize)),
		kek:    kek, limits: limits, now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
		written: make(chan struct{}, 1),
	}
	s.cipher = func(id string, dk []byte) (crypt.Cipher, error) { return crypt.NewFileCipher(id, dk) }
	for _, o := range opts {
		o(s)
	}
	return s
}

// Migrate creates the indexes that are missing (FerretDB fails on re-creating an existing
// index, so each is created only if its name is not listed) and the GridFS bucket's. Call it
// once before the store is used concurrently: the driver's bucket checks its indexes on its
// first write without synchronisation, so Migrate makes that first write alone.
func (s *Store) Migrate(ctx context.Context) error {
	up, err := s.bucket.OpenUploadStreamWithID(ctx, "migrate."+randomHex(8), pendingPrefix+"migrate")
	if err != nil {
		return fmt.Errorf("mongo.Store.Migrate: gridfs: %w", err)
	}
	_ = up.Abort()
	for _, ix := range []struct {
		coll   *mongo.Collection
		name   string
		keys   bson.D
		sparse bool
	}{
		{s.meta, "owner_idempotency", bson.D{{Key: "owner_id", Value: 1}, {Key: "idempotency_key", Value: 1}}, false},
		{s.meta, "state_created", bson.D{{Key: "state", Value: 1}, {Key: "created", Value: 1}}, false},
		// Few documents have pending events or are removed: sparse indexes (FerretDB ignores
		// sparse and indexes every document).
		{s.meta, "outbox", bson.D{{Key: "outbox.id", Value: 1}}, true},
		{s.meta, "removed", bson.D{{Key: "removed", Value: 1}}, true},
	} {
		names, err := ix.coll.Indexes().ListSpecifications(ctx)
		if err != nil {
			return fmt.Errorf("mongo.Store.Migrate: %w", err)
		}
		if slices.ContainsFunc(names, func(sp mongo.IndexSpecification) bool { return sp.Name == ix.name }) {
			continue
		}
		if _, err := ix.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name).SetSparse(ix.sparse)}); err != nil {
			return fmt.Errorf("mongo.Store.Migrate: %w", err)
		}
	}
	return nil
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.Client().Ping(ctx, nil)
}

// Meta is what a client says about a file it creates.
type Meta struct {
	Name           string
	DeclaredType   string
	Size           int64 // exact size, or -1 when unknown (presigned uploads)
	SHA256         string
	IdempotencyKey string
	Labels         map[string]string
	Store          bool
}

// validate checks m; prefix names the request's fields ("metadata." for Upload).
func (s *Store) validate(prefix string, m Meta) error {
	const op = "mongo.Store.validate"
	if err := file.ValidateName(prefix+"name", m.Name); err != nil {
		return err
	}
	if err := file.ValidateLabels(prefix+"labels", m.Labels); err != nil {
		return err
	}
	if m.Size < -1 {
		return errs.BadRequest(op, errs.Violation{Field: prefix + "size", Description: "must not be negative"})
	}
	if m.Size > s.limits.MaxSize {
		return errs.BadRequest(op, errs.Violation{Field: prefix + "size", Description: fmt.Sprintf("must be at most %d bytes", s.limits.MaxSize)})
	}
	if m.SHA256 != "" {
		if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != 32 {
			return errs.BadRequest(op, errs.Violation{Field: prefix + "sha256", Description: "must be 64 hex digits"})
		}
	}
	if len(m.IdempotencyKey) > 128 {
		return errs.BadRequest(op, errs.Violation{Field: prefix + "idempotency_key", Description: "must be at most 128 bytes"})
	}
	return nil
}

// checkQuota fails with ResourceExhausted naming field if owner cannot keep size more bytes.
func (s *Store) checkQuota(ctx context.Context, owner string, size int64, field string) error {
	const op = "mongo.Store.checkQuota"
	used, err := s.Usage(ctx, owner)
	if err != nil {
		return errs.Wrap(op, err)
	}
	if used+size > s.limits.Quota {
		return &errs.Error{Op: op, Kind: errs.ResourceExhausted, Msg: fmt.Sprintf("%s: quota of %d bytes exceeded (%d used)", field, s.limits.Quota, used),
			Violations: []errs.Violation{{Field: field, Description: "exceeds the owner's quota"}}}
	}
	return nil
}

// Usage is the bytes owner keeps in pending and stored files.
func (s *Store) Usage(ctx context.Context, owner string) (int64, error) {
	cur, err := s.meta.Find(ctx, bson.D{{Key: "owner_id", Value: owner}, {Key: "state", Value: bson.D{{Key: "$ne", Value: string(file.Deleted)}}}, live},
		options.Find().SetProjection(bson.D{{Key: "size", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("mongo.Store.Usage: %w", err)
	}
	var rows []struct {
		Size int64 `bson:"size"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, fmt.Errorf("mongo.Store.Usage: %w", err)
	}
	var n int64
	for _, r := range rows {
		n += r.Size
	}
	return n, nil
}

// newDoc makes the metadata document of a new pending file owned by p.
func (s *Store) newDoc(p file.Principal, m Meta) (*doc, []byte) {
	id := uuid.Must(uuid.NewV7()).String()
	now := s.now()
	w, dk := s.kek.NewDataKey(id)
	return &doc{File: file.File{
		ID: id, Name: m.Name, OwnerID: p.Subject, State: file.Pending, DeclaredContentType: m.DeclaredType,
		Labels: m.Labels, IdempotencyKey: m.IdempotencyKey, Created: now, Updated: now,
	}, KEKID: w.KEKID, WrappedKey: w.Sealed}, dk
}

// byIdempotencyKey returns owner's file created with key, if any.
func (s *Store) byIdempotencyKey(ctx context.Context, owner, key string) (*doc, error) {
	if key == "" {
		return nil, nil
	}
	var d doc
	err := s.meta.FindOne(ctx, bson.D{{Key: "owner_id", Value: owner}, {Key: "idempotency_key", Value: key}, live},
		options.FindOne().SetProjection(noOutbox)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mongo.Store.byIdempotencyKey: %w", err)
	}
	return &d, nil
}

// load returns file id's document without its events, NotFound if there is none or it is
// removed.
func (s *Store) load(ctx context.Context, id string) (*doc, error) {
	var d doc
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: id}, live}, options.FindOne().SetProjection(noOutbox)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, errs.E("mongo.Store.load", errs.NotFound, "no such file")
	}
	if err != nil {
		return nil, fmt.Errorf("mongo.Store.load: %w", err)
	}
	return &d, nil
}

// insert writes a new document with its event.
func (s *Store) insert(ctx context.Context, d *doc, k stream.Kind, actor string) error {
	ev, err := s.newEvent(ctx, &d.File, k, actor)
	if err != nil {
		return err
	}
	d.Outbox = []event{ev}
	if _, err := s.meta.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("mongo.Store.insert: %w", err)
	}
	s.notify()
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
