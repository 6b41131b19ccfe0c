package mongo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/errs"
)

// pendingPrefix names GridFS files whose metadata does not point at them yet.
const pendingPrefix = "pending/"

// Upload stores a new file owned by p with the content read from r, which must be exactly
// m.Size bytes and match m.SHA256 when set. The file is pending unless m.Store. A retry with
// the same idempotency key returns the file of the first attempt. On any error nothing is
// left: no metadata, no GridFS chunks.
func (s *Store) Upload(ctx context.Context, p file.Principal, m Meta, r io.Reader) (*file.File, error) {
	const op = "mongo.Store.Upload"
	if err := s.validate("metadata.", m); err != nil {
		return nil, err
	}
	if m.Size < 0 {
		return nil, errs.BadRequest(op, errs.Violation{Field: "metadata.size", Description: "is required"})
	}
	if prev, err := s.byIdempotencyKey(ctx, p.Subject, m.IdempotencyKey); err != nil || prev != nil {
		if prev != nil {
			_, _ = io.Copy(io.Discard, r)
			return &prev.File, nil
		}
		return nil, errs.Wrap(op, err)
	}
	if err := s.checkQuota(ctx, p.Subject, m.Size, "metadata.size"); err != nil {
		return nil, err
	}
	d, dk := s.newDoc(p, m)
	if err := s.writeContent(ctx, d, dk, m.Size, m.Size, m.SHA256, "metadata.", r); err != nil {
		return nil, errs.Wrap(op, err)
	}
	kind := stream.Uploaded
	if m.Store {
		d.State, kind = file.Stored, stream.Stored
	}
	if err := s.insert(ctx, d, kind, p.Subject); err != nil {
		_ = s.bucket.Delete(context.WithoutCancel(ctx), d.ContentID)
		return nil, errs.Wrap(op, err)
	}
	if err := s.bucket.Rename(ctx, d.ContentID, d.ID); err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &d.File, nil
}

// Create records a pending file without content, for a presigned PUT of at most maxSize bytes.
func (s *Store) Create(ctx context.Context, p file.Principal, m Meta, maxSize int64) (*file.File, error) {
	const op = "mongo.Store.Create"
	m.Size = -1
	if err := s.validate("", m); err != nil {
		return nil, err
	}
	if maxSize <= 0 || maxSize > s.limits.MaxSize {
		return nil, errs.BadRequest(op, errs.Violation{Field: "max_size", Description: fmt.Sprintf("must be between 1 and %d", s.limits.MaxSize)})
	}
	if err := s.checkQuota(ctx, p.Subject, maxSize, "max_size"); err != nil {
		return nil, err
	}
	d, _ := s.newDoc(p, m)
	if err := s.insert(ctx, d, stream.Uploaded, p.Subject); err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &d.File, nil
}

// PutContent writes the content of pending file id created by Create, at most maxSize bytes,
// and stores the file when storeNow. It fails with FailedPrecondition if the file already has
// content: a second PUT never replaces the first.
func (s *Store) PutContent(ctx context.Context, id string, maxSize int64, storeNow bool, r io.Reader) (*file.File, error) {
	const op = "mongo.Store.PutContent"
	d, err := s.load(ctx, id)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if d.State != file.Pending || d.ContentID != "" {
		return nil, errs.E(op, errs.FailedPrecondition, "the file already has content")
	}
	dk, err := s.kek.Unwrap(d.ID, crypt.WrappedKey{KEKID: d.KEKID, Sealed: d.WrappedKey})
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if err := s.writeContent(ctx, d, dk, -1, maxSize, "", "", r); err != nil {
		return nil, errs.Wrap(op, err)
	}
	now := s.now()
	set := bson.D{{Key: "content_id", Value: d.ContentID}, {Key: "size", Value: d.Size}, {Key: "sha256", Value: d.SHA256},
		{Key: "content_type", Value: d.ContentType}, {Key: "updated", Value: now}}
	kind := stream.Uploaded
	if storeNow {
		set = append(set, bson.E{Key: "state", Value: string(file.Stored)})
		d.State, kind = file.Stored, stream.Stored
	}
	d.Updated = now
	if err := s.attach(ctx, d, set, kind); err != nil {
		_ = s.bucket.Delete(context.WithoutCancel(ctx), d.ContentID)
		return nil, errs.Wrap(op, err)
	}
	if err := s.bucket.Rename(ctx, d.ContentID, d.ID); err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &d.File, nil
}

// attach sets the fields set of pending file d, which must have no content yet, with event
// kind.
func (s *Store) attach(ctx context.Context, d *doc, set bson.D, kind stream.Kind) error {
	const op = "mongo.Store.PutContent"
	ev, err := s.newEvent(ctx, &d.File, kind, d.OwnerID)
	if err != nil {
		return err
	}
	unlock := s.lock(d.ID)
	res, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "state", Value: string(file.Pending)}, {Key: "content_id", Value: bson.D{{Key: "$exists", Value: false}}}, live},
		bson.D{{Key: "$set", Value: set}, {Key: "$push", Value: bson.D{{Key: "outbox", Value: ev}}}})
	unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if res.MatchedCount == 0 { // a concurrent PUT won, or the sweeper expired the file
		return errs.E(op, errs.FailedPrecondition, "the file already has content or no longer exists")
	}
	s.notify()
	return nil
}

// writeContent seals r into a new GridFS file and sets d's content id, size, SHA-256 and
// sniffed type. size is the exact size expected (-1: any up to max); sum the expected SHA-256
// ("" to skip). On error the GridFS file is gone.
func (s *Store) writeContent(ctx context.Context, d *doc, dk []byte, size, max int64, sum, prefix string, r io.Reader) error {
	const op = "mongo.Store.writeContent"
	c, err := s.cipher(d.ID, dk)
	if err != nil {
		return errs.Wrap(op, err)
	}
	contentID := d.ID + "." + randomHex(8)
	up, err := s.bucket.OpenUploadStreamWithID(ctx, contentID, pendingPrefix+d.ID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	h := sha256.New()
	sniff := &sniffer{}
	w := crypt.NewWriter(up, c)
	n, err := io.Copy(io.MultiWriter(w, h, sniff), io.LimitReader(r, max+1))
	if err == nil {
		err = w.Close()
	}
	switch {
	case err != nil:
	case n > max:
		err = errs.BadRequest(op, errs.Violation{Field: prefix + "size", Description: fmt.Sprintf("content exceeds %d bytes", max)})
	case size >= 0 && n != size:
		err = errs.BadRequest(op, errs.Violation{Field: prefix + "size", Description: fmt.Sprintf("declared %d bytes, received %d", size, n)})
	case sum != "" && hex.EncodeToString(h.Sum(nil)) != sum:
		err = errs.BadRequest(op, errs.Violation{Field: prefix + "sha256", Description: "does not match the content received"})
	}
	if err != nil {
		_ = up.Abort()
		_ = s.bucket.Delete(context.WithoutCancel(ctx), contentID) // Abort leaves the files document if Close ran
		if errs.KindOf(err) == 0 {
			err = errs.Errorf(op, errs.Unavailable, "upload interrupted: %w", err)
		}
		return err
	}
	if err := up.Close(); err != nil {
		_ = s.bucket.Delete(context.WithoutCancel(ctx), contentID)
		return fmt.Errorf("%s: %w", op, err)
	}
	d.ContentID, d.Size, d.SHA256, d.ContentType = contentID, n, hex.EncodeToString(h.Sum(nil)), http.DetectContentType(sniff.buf)
	return nil
}

// sniffer keeps the first 512 bytes written, for http.DetectContentType.
type sniffer struct{ buf []byte }

func (s *sniffer) Write(p []byte) (int, error) {
	if k := 512 - len(s.buf); k > 0 {
		s.buf = append(s.buf, p[:min(k, len(p))]...)
	}
	return len(p), nil
}

// Open returns stored file id and a reader of its plaintext (close it), if p may read it; the
// read is audited.
func (s *Store) Open(ctx context.Context, p file.Principal, id string) (*file.File, *crypt.Reader, error) {
	const op = "mongo.Store.Open"
	d, err := s.load(ctx, id)
	if err != nil {
		return nil, nil, errs.Wrap(op, err)
	}
	if !d.CanRead(p, s.now()) {
		return nil, nil, errs.E(op, errs.NotFound, "no such file")
	}
	if d.State != file.Stored {
		return nil, nil, errs.Errorf(op, errs.FailedPrecondition, "the file is %s", d.State)
	}
	r, err := s.reader(ctx, d)
	if err != nil {
		return nil, nil, errs.Wrap(op, err)
	}
	if err := s.record(ctx, p, d.ID, "read"); err != nil {
		return nil, nil, errs.Wrap(op, err)
	}
	return &d.File, r, nil
}

func (s *Store) reader(ctx context.Context, d *doc) (*crypt.Reader, error) {
	dk, err := s.kek.Unwrap(d.ID, crypt.WrappedKey{KEKID: d.KEKID, Sealed: d.WrappedKey})
	if err != nil {
		return nil, err
	}
	c, err := s.cipher(d.ID, dk)
	if err != nil {
		return nil, err
	}
	return crypt.NewReader(gridSource{ctx, s.bucket, d.ContentID}, c, d.Size), nil
}

// gridSource reads a GridFS file's chunks straight from the chunks collection, from any
// offset and in small batches. The bucket's chunk size is crypt.SealedChunkSize, so GridFS
// chunk n holds exactly sealed chunk n.
type gridSource struct {
	ctx    context.Context
	bucket *mongo.GridFSBucket
	id     string
}

// OpenAt implements crypt.Source.
func (g gridSource) OpenAt(off int64) (io.ReadCloser, error) {
	first := off / crypt.SealedChunkSize
	cur, err := g.bucket.GetChunksCollection().Find(g.ctx,
		bson.D{{Key: "files_id", Value: g.id}, {Key: "n", Value: bson.D{{Key: "$gte", Value: first}}}},
		options.Find().SetSort(bson.D{{Key: "n", Value: 1}}).SetBatchSize(32))
	if err != nil {
		return nil, fmt.Errorf("mongo.gridSource: %w", err)
	}
	return &chunkReader{ctx: g.ctx, cur: cur, next: first, skip: off - first*crypt.SealedChunkSize}, nil
}

// chunkReader concatenates GridFS chunks from a cursor, checking they follow each other.
type chunkReader struct {
	ctx  context.Context
	cur  *mongo.Cursor
	buf  []byte
	next int64
	skip int64
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if !c.cur.Next(c.ctx) {
			if err := c.cur.Err(); err != nil {
				return 0, fmt.Errorf("mongo.gridSource: %w", err)
			}
			return 0, io.EOF
		}
		var ch struct {
			N    int64  `bson:"n"`
			Data []byte `bson:"data"`
		}
		if err := c.cur.Decode(&ch); err != nil {
			return 0, fmt.Errorf("mongo.gridSource: %w", err)
		}
		if ch.N != c.next {
			return 0, errs.Errorf("mongo.gridSource", errs.Internal, "chunk %d missing", c.next)
		}
		c.next++
		c.buf = ch.Data
		if c.skip > 0 {
			c.buf = c.buf[min(c.skip, int64(len(c.buf))):]
			c.skip = 0
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkReader) Close() error { return c.cur.Close(context.WithoutCancel(c.ctx)) }

// UseNonce records that the single-use presigned URL with nonce was used; it fails with
// FailedPrecondition if it already was. Records are kept until expires passes by a day.
func (s *Store) UseNonce(ctx context.Context, nonce string, expires time.Time) error {
	_, err := s.db.Collection("presign_nonces").InsertOne(ctx, bson.D{{Key: "_id", Value: nonce}, {Key: "expires", Value: expires}})
	if mongo.IsDuplicateKeyError(err) {
		return errs.E("mongo.Store.UseNonce", errs.FailedPrecondition, "the URL was already used")
	}
	if err != nil {
		return fmt.Errorf("mongo.Store.UseNonce: %w", err)
	}
	return nil
}
