// Package mongo stores files in MongoDB: metadata in the `files` collection, sealed content
// in the GridFS bucket `content`, events in the `outbox` collection (relayed to NATS by Relay)
// and reads in the `audit` collection.
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
	"slices"
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
	outbox *mongo.Collection
	audit  *mongo.Collection
	bucket *mongo.GridFSBucket
	kek    *crypt.KEK
	limits Limits
	now    func() time.Time
	cipher func(fileID string, dk []byte) (crypt.Cipher, error)
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

// doc is a file's metadata document: the file and its wrapped data key.
type doc struct {
	file.File  `bson:",inline"`
	KEKID      string `bson:"kek_id"`
	WrappedKey []byte `bson:"wrapped_key"`
	ContentID  string `bson:"content_id,omitempty"`
}

// New returns a Store on db, wrapping data keys with kek.
func New(db *mongo.Database, kek *crypt.KEK, limits Limits, opts ...Option) *Store {
	s := &Store{
		db: db, meta: db.Collection("files"), outbox: db.Collection("outbox"), audit: db.Collection("audit"),
		bucket: db.GridFSBucket(options.GridFSBucket().SetName("content").SetChunkSizeBytes(crypt.SealedChunkSize)),
		kek:    kek, limits: limits, now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
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
		coll *mongo.Collection
		name string
		keys bson.D
	}{
		{s.meta, "owner_idempotency", bson.D{{Key: "owner_id", Value: 1}, {Key: "idempotency_key", Value: 1}}},
		{s.meta, "state_created", bson.D{{Key: "state", Value: 1}, {Key: "created", Value: 1}}},
		{s.outbox, "created", bson.D{{Key: "created", Value: 1}}},
	} {
		names, err := ix.coll.Indexes().ListSpecifications(ctx)
		if err != nil {
			return fmt.Errorf("mongo.Store.Migrate: %w", err)
		}
		if slices.ContainsFunc(names, func(sp mongo.IndexSpecification) bool { return sp.Name == ix.name }) {
			continue
		}
		if _, err := ix.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name)}); err != nil {
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
	cur, err := s.meta.Find(ctx, bson.D{{Key: "owner_id", Value: owner}, {Key: "state", Value: bson.D{{Key: "$ne", Value: string(file.Deleted)}}}},
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
	err := s.meta.FindOne(ctx, bson.D{{Key: "owner_id", Value: owner}, {Key: "idempotency_key", Value: key}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mongo.Store.byIdempotencyKey: %w", err)
	}
	return &d, nil
}

// load returns file id's document, NotFound if there is none.
func (s *Store) load(ctx context.Context, id string) (*doc, error) {
	var d doc
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, errs.E("mongo.Store.load", errs.NotFound, "no such file")
	}
	if err != nil {
		return nil, fmt.Errorf("mongo.Store.load: %w", err)
	}
	return &d, nil
}

// insert writes a new document and its event.
func (s *Store) insert(ctx context.Context, d *doc, k stream.Kind, actor string) error {
	if _, err := s.meta.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("mongo.Store.insert: %w", err)
	}
	return s.enqueue(ctx, &d.File, k, actor)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
