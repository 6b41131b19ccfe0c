package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/errs"
)

// Get returns file id if p may read it; NotFound otherwise, so ids cannot be probed.
func (s *Store) Get(ctx context.Context, p file.Principal, id string) (*file.File, error) {
	d, err := s.load(ctx, id)
	if err != nil {
		return nil, errs.Wrap("mongo.Store.Get", err)
	}
	if !d.CanRead(p, s.now()) {
		return nil, errs.E("mongo.Store.Get", errs.NotFound, "no such file")
	}
	return &d.File, nil
}

// List returns up to size files p may read, newest first, after the file id token ("" from
// the start), and the token of the next page ("" at the end).
func (s *Store) List(ctx context.Context, p file.Principal, size int, token string, withDeleted bool) ([]*file.File, string, error) {
	const op = "mongo.Store.List"
	filter := bson.D{live}
	if token != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: token}}})
	}
	if !withDeleted {
		filter = append(filter, bson.E{Key: "state", Value: bson.D{{Key: "$ne", Value: string(file.Deleted)}}})
	}
	now := s.now()
	var out []*file.File
	// Access rules live in file.CanRead; scan in id order and keep the readable ones.
	for len(out) < size {
		cur, err := s.meta.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(size*4)).
			SetProjection(bson.D{{Key: "wrapped_key", Value: 0}, {Key: "outbox", Value: 0}}))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", op, err)
		}
		var docs []doc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, "", fmt.Errorf("%s: %w", op, err)
		}
		for i := range docs {
			if docs[i].CanRead(p, now) {
				out = append(out, &docs[i].File)
				if len(out) == size {
					return out, docs[i].ID, nil
				}
			}
		}
		if len(docs) < size*4 {
			return out, "", nil
		}
		filter = setID(filter, docs[len(docs)-1].ID)
	}
	return out, "", nil
}

func setID(filter bson.D, before string) bson.D {
	for i, e := range filter {
		if e.Key == "_id" {
			filter[i].Value = bson.D{{Key: "$lt", Value: before}}
			return filter
		}
	}
	return append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: before}}})
}

// Update applies change to file id on behalf of p, who must be allowed to change it, saves
// it with event kind if nobody changed it meanwhile (Conflict otherwise).
func (s *Store) Update(ctx context.Context, p file.Principal, id string, kind stream.Kind, change func(*file.File, time.Time) error) (*file.File, error) {
	const op = "mongo.Store.Update"
	d, err := s.load(ctx, id)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if !d.CanRead(p, s.now()) {
		return nil, errs.E(op, errs.NotFound, "no such file")
	}
	if !d.CanChange(p) {
		return nil, errs.E(op, errs.Forbidden, "only the owner or an admin may change the file")
	}
	before := d.Updated
	old, err := fields(&d.File)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	// `updated` must move for the change to be saved (and to conflict with a concurrent one)
	// even if the clock, at millisecond resolution, has not.
	now := s.now()
	if !now.After(before) {
		now = before.Add(time.Millisecond)
	}
	if err := change(&d.File, now); err != nil {
		return nil, errs.Wrap(op, err)
	}
	if d.Updated.Equal(before) {
		return &d.File, nil // nothing changed (e.g. storing a stored file)
	}
	set, err := fields(&d.File)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ev, err := s.newEvent(ctx, &d.File, kind, p.Subject)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	// $set and $push, not a replacement: the events the relay has not yet removed stay as
	// they are, so none is lost or written back after the relay published it.
	update := bson.D{{Key: "$set", Value: set}, {Key: "$push", Value: bson.D{{Key: "outbox", Value: ev}}}}
	var unset bson.D
	for _, e := range old {
		if !slices.ContainsFunc(set, func(n bson.E) bool { return n.Key == e.Key }) {
			unset = append(unset, bson.E{Key: e.Key, Value: ""}) // an omitempty field emptied
		}
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	unlock := s.lock(id)
	res, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "updated", Value: before}, live}, update)
	unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if res.MatchedCount == 0 {
		return nil, errs.E(op, errs.Conflict, "the file changed meanwhile; retry")
	}
	s.notify()
	return &d.File, nil
}

// fields is f's document fields but _id, as stored.
func fields(f *file.File) (bson.D, error) {
	b, err := bson.Marshal(f)
	if err != nil {
		return nil, err
	}
	var d bson.D
	if err := bson.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(d, func(e bson.E) bool { return e.Key == "_id" }), nil
}

// Sweep removes pending files created before now-pendingTTL (event expired), purges files
// deleted before now-retention (event purged), and removes "pending/" GridFS files older than
// pendingTTL that no metadata points at (left by a crash mid-upload). It returns how many
// files it expired and purged. A removed file is gone for every reader at once; its content
// is deleted, and its document once the relay has published its last event. Sweep also
// finishes removed files a crash left behind without pending events.
func (s *Store) Sweep(ctx context.Context, pendingTTL, retention time.Duration) (expired, purged int, err error) {
	const op = "mongo.Store.Sweep"
	now := s.now()
	if err := s.finishRemoved(ctx); err != nil {
		return 0, 0, errs.Wrap(op, err)
	}
	for _, q := range []struct {
		filter bson.D
		kind   stream.Kind
		n      *int
	}{
		{bson.D{{Key: "state", Value: string(file.Pending)}, {Key: "created", Value: bson.D{{Key: "$lt", Value: now.Add(-pendingTTL)}}}, live}, stream.Expired, &expired},
		{bson.D{{Key: "state", Value: string(file.Deleted)}, {Key: "deleted", Value: bson.D{{Key: "$lt", Value: now.Add(-retention)}}}, live}, stream.Purged, &purged},
	} {
		cur, err := s.meta.Find(ctx, q.filter, options.Find().SetProjection(noOutbox))
		if err != nil {
			return expired, purged, fmt.Errorf("%s: %w", op, err)
		}
		var docs []doc
		if err := cur.All(ctx, &docs); err != nil {
			return expired, purged, fmt.Errorf("%s: %w", op, err)
		}
		for i := range docs {
			ok, err := s.remove(ctx, &docs[i], q.kind)
			if err != nil {
				return expired, purged, errs.Wrap(op, err)
			}
			if ok {
				*q.n++
			}
		}
	}
	return expired, purged, s.sweepOrphans(ctx, now.Add(-pendingTTL))
}

// remove marks d removed with event kind, if it did not change meanwhile (false otherwise:
// the next sweep decides again), then deletes its content. The relay deletes the document.
func (s *Store) remove(ctx context.Context, d *doc, kind stream.Kind) (bool, error) {
	ev, err := s.newEvent(ctx, &d.File, kind, file.System.Subject)
	if err != nil {
		return false, err
	}
	unlock := s.lock(d.ID)
	res, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "updated", Value: d.Updated}, live},
		bson.D{{Key: "$set", Value: bson.D{{Key: "removed", Value: true}}}, {Key: "$push", Value: bson.D{{Key: "outbox", Value: ev}}}})
	unlock()
	if err != nil || res.MatchedCount == 0 {
		return false, err
	}
	s.notify()
	if d.ContentID != "" {
		if err := s.bucket.Delete(ctx, d.ContentID); err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
			return true, err // the relay or the next sweep deletes it (finish)
		}
	}
	return true, nil
}

// finishRemoved finishes the removed files without pending events: left by a crash after the
// relay published their last event.
func (s *Store) finishRemoved(ctx context.Context) error {
	cur, err := s.meta.Find(ctx, bson.D{{Key: "removed", Value: true}, {Key: "outbox.id", Value: bson.D{{Key: "$exists", Value: false}}}},
		options.Find().SetProjection(bson.D{{Key: "content_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("mongo.Store.finishRemoved: %w", err)
	}
	var docs []struct {
		ID        string `bson:"_id"`
		ContentID string `bson:"content_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("mongo.Store.finishRemoved: %w", err)
	}
	for _, d := range docs {
		if err := s.finish(ctx, d.ID, d.ContentID); err != nil {
			return fmt.Errorf("mongo.Store.finishRemoved: %w", err)
		}
	}
	return nil
}

func (s *Store) sweepOrphans(ctx context.Context, before time.Time) error {
	cur, err := s.bucket.Find(ctx, bson.D{{Key: "filename", Value: bson.D{{Key: "$regex", Value: "^" + pendingPrefix}}},
		{Key: "uploadDate", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return fmt.Errorf("mongo.Store.sweepOrphans: %w", err)
	}
	var files []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &files); err != nil {
		return fmt.Errorf("mongo.Store.sweepOrphans: %w", err)
	}
	for _, f := range files {
		n, err := s.meta.CountDocuments(ctx, bson.D{{Key: "content_id", Value: f.ID}, live})
		if err != nil {
			return fmt.Errorf("mongo.Store.sweepOrphans: %w", err)
		}
		if n == 0 {
			if err := s.bucket.Delete(ctx, f.ID); err != nil && !errors.Is(err, mongo.ErrFileNotFound) {
				return fmt.Errorf("mongo.Store.sweepOrphans: %w", err)
			}
		}
	}
	return nil
}

// RotateKEK rewraps, under the store's KEK, every data key wrapped by old. Content is not
// touched. It is safe to rerun after an interruption; it returns how many keys it rewrapped.
//
// It repeats its pass until none is left under old: FerretDB applies an update as a
// read-modify-write of the whole document, so a relay pulling a document's outbox at the same
// moment can write back the old key; the next pass rewraps it again.
func (s *Store) RotateKEK(ctx context.Context, old *crypt.KEK) (int, error) {
	const passes = 10
	done := map[string]bool{}
	for range passes {
		n, err := s.rotatePass(ctx, old, done)
		if err != nil || n == 0 {
			return len(done), err
		}
		select {
		case <-ctx.Done():
			return len(done), ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return len(done), fmt.Errorf("mongo.Store.RotateKEK: data keys still wrapped by %s after %d passes", old.ID(), passes)
}

// rotatePass rewraps the keys found under old once and records their files in done; it returns
// how many it found.
func (s *Store) rotatePass(ctx context.Context, old *crypt.KEK, done map[string]bool) (int, error) {
	const op = "mongo.Store.RotateKEK"
	cur, err := s.meta.Find(ctx, bson.D{{Key: "kek_id", Value: old.ID()}, live}, options.Find().SetProjection(bson.D{{Key: "kek_id", Value: 1}, {Key: "wrapped_key", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	var docs []struct {
		ID         string `bson:"_id"`
		KEKID      string `bson:"kek_id"`
		WrappedKey []byte `bson:"wrapped_key"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	for _, d := range docs {
		w, err := s.kek.Rewrap(old, d.ID, crypt.WrappedKey{KEKID: d.KEKID, Sealed: d.WrappedKey})
		if err != nil {
			return 0, errs.Wrap(op, err)
		}
		unlock := s.lock(d.ID)
		res, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "kek_id", Value: old.ID()}, live},
			bson.D{{Key: "$set", Value: bson.D{{Key: "kek_id", Value: w.KEKID}, {Key: "wrapped_key", Value: w.Sealed}}}})
		unlock()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", op, err)
		}
		if res.ModifiedCount > 0 {
			done[d.ID] = true
		}
	}
	return len(docs), nil
}
