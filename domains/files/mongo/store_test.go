package mongo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	drv "go.mongodb.org/mongo-driver/v2/mongo"

	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/mongo"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var alice = file.Principal{Subject: "alice", Roles: []string{"engineer"}}

func kek(t testing.TB, b byte) *crypt.KEK {
	k, err := crypt.NewKEK(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newStore(t testing.TB, k *crypt.KEK, opts ...mongo.Option) (*mongo.Store, *drv.Database) {
	t.Helper()
	m := testinfra.StartMongo(t)
	db := m.Client(t).Database(m.Database)
	s := mongo.New(db, k, mongo.Limits{MaxSize: 200 << 20, Quota: 1 << 30}, opts...)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, db
}

func upload(t testing.TB, s *mongo.Store, p file.Principal, name string, data []byte) *file.File {
	t.Helper()
	sum := sha256.Sum256(data)
	f, err := s.Upload(context.Background(), p, mongo.Meta{Name: name, DeclaredType: "application/pdf", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Store: true}, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return f
}

func read(t testing.TB, s *mongo.Store, p file.Principal, id string) []byte {
	t.Helper()
	_, r, err := s.Open(context.Background(), p, id)
	if err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return got
}

func TestRoundTripEncryptedAndRotate(t *testing.T) {
	ctx := context.Background()
	old := kek(t, 1)
	s, db := newStore(t, old)
	plain := bytes.Repeat([]byte("CALIBRATION CERTIFICATE 4711 "), 40000) // ~1.1 MB, several chunks
	files := map[string][]byte{"empty.txt": {}, "one.bin": {'x'}, "cert.txt": plain}
	ids := map[string]string{}
	for name, data := range files {
		f := upload(t, s, alice, name, data)
		ids[name] = f.ID
		if f.Size != int64(len(data)) || f.State != file.Stored {
			t.Fatalf("%s: size %d state %s", name, f.Size, f.State)
		}
		if got := read(t, s, alice, f.ID); !bytes.Equal(got, data) {
			t.Fatalf("%s: read back differs", name)
		}
	}
	// The raw GridFS bytes do not contain the plaintext.
	cur, err := db.Collection("content.chunks").Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []struct {
		Data bson.Binary `bson:"data"`
	}
	if err := cur.All(ctx, &chunks); err != nil || len(chunks) == 0 {
		t.Fatalf("chunks: %d, %v", len(chunks), err)
	}
	for _, c := range chunks {
		if bytes.Contains(c.Data.Data, []byte("CALIBRATION")) {
			t.Fatal("GridFS holds plaintext")
		}
	}
	// Rotate the KEK: a store with the new KEK rewraps, then reads everything back.
	next := kek(t, 2)
	s2 := mongo.New(db, next, mongo.Limits{MaxSize: 200 << 20, Quota: 1 << 30})
	if _, _, err := s2.Open(ctx, alice, ids["cert.txt"]); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("open before rotation: %v", err)
	}
	n, err := s2.RotateKEK(ctx, old)
	if err != nil || n != len(files) {
		t.Fatalf("rotate: %d, %v", n, err)
	}
	for name, data := range files {
		if got := read(t, s2, alice, ids[name]); !bytes.Equal(got, data) {
			t.Fatalf("%s after rotation differs", name)
		}
	}
	if _, _, err := s.Open(ctx, alice, ids["cert.txt"]); err == nil {
		t.Fatal("the old KEK still opens the file")
	}
}

func TestMismatchLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t, kek(t, 1))
	data := make([]byte, 600<<10)
	_, _ = rand.Read(data)
	for name, tc := range map[string]struct {
		m     mongo.Meta
		r     io.Reader
		field string
	}{
		"size":      {mongo.Meta{Name: "a", Size: int64(len(data)) + 1}, bytes.NewReader(data), "metadata.size"},
		"sha256":    {mongo.Meta{Name: "a", Size: int64(len(data)), SHA256: hex.EncodeToString(make([]byte, 32))}, bytes.NewReader(data), "metadata.sha256"},
		"interrupt": {mongo.Meta{Name: "a", Size: int64(len(data))}, io.MultiReader(bytes.NewReader(data[:400<<10]), errReader{}), ""},
		"bad name":  {mongo.Meta{Name: "../etc/passwd", Size: 1}, bytes.NewReader([]byte{1}), "metadata.name"},
		"too big":   {mongo.Meta{Name: "a", Size: 300 << 20}, bytes.NewReader(nil), "metadata.size"},
	} {
		_, err := s.Upload(ctx, alice, tc.m, tc.r)
		if err == nil {
			t.Fatalf("%s: upload succeeded", name)
		}
		if tc.field != "" && (len(errs.Violations(err)) == 0 || errs.Violations(err)[0].Field != tc.field) {
			t.Fatalf("%s: %v does not name %s", name, err, tc.field)
		}
	}
	for _, c := range []string{"files", "content.files", "content.chunks"} {
		if n, err := db.Collection(c).CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
			t.Fatalf("%s holds %d documents after failed uploads (%v)", c, n, err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }

func TestQuota(t *testing.T) {
	ctx := context.Background()
	m := testinfra.StartMongo(t)
	s := mongo.New(m.Client(t).Database(m.Database), kek(t, 1), mongo.Limits{MaxSize: 100, Quota: 150})
	upload(t, s, alice, "a", make([]byte, 100))
	_, err := s.Upload(ctx, alice, mongo.Meta{Name: "b", Size: 60}, bytes.NewReader(make([]byte, 60)))
	if !errs.Is(err, errs.ResourceExhausted) || errs.Violations(err)[0].Field != "metadata.size" {
		t.Fatalf("over quota: %v", err)
	}
	upload(t, s, file.Principal{Subject: "bob"}, "b", make([]byte, 60)) // bob has his own quota
}

func TestSweeperAndAccess(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	s, db := newStore(t, kek(t, 1), mongo.WithClock(clock))
	pending, err := s.Upload(ctx, alice, mongo.Meta{Name: "p", Size: 3}, bytes.NewReader([]byte("abc")))
	if err != nil || pending.State != file.Pending {
		t.Fatalf("pending upload: %v", err)
	}
	announced, err := s.Create(ctx, alice, mongo.Meta{Name: "q"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	stored := upload(t, s, alice, "s", []byte("kept"))
	if _, err := s.Get(ctx, file.Principal{Subject: "bob"}, stored.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bob reads alice's file: %v", err)
	}
	if _, _, err := s.Open(ctx, alice, pending.ID); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("pending file opened: %v", err)
	}
	now = now.Add(2 * time.Hour)
	expired, purged, err := s.Sweep(ctx, time.Hour, 24*time.Hour)
	if err != nil || expired != 2 || purged != 0 {
		t.Fatalf("sweep: %d expired, %d purged, %v", expired, purged, err)
	}
	for _, id := range []string{pending.ID, announced.ID} {
		if _, err := s.Get(ctx, alice, id); !errs.Is(err, errs.NotFound) {
			t.Fatalf("pending %s survived: %v", id, err)
		}
	}
	if got := read(t, s, alice, stored.ID); string(got) != "kept" {
		t.Fatalf("stored file: %q", got)
	}
	if n, _ := db.Collection("content.files").CountDocuments(ctx, bson.D{}); n != 1 {
		t.Fatalf("%d GridFS files after the sweep, want 1", n)
	}
	if events := pendingEvents(t, db); events != 5 { // 3 uploads/creates + 2 expiries, not relayed
		t.Fatalf("%d pending events, want 5", events)
	}
}

func TestConcurrentUploads(t *testing.T) {
	s, _ := newStore(t, kek(t, 1))
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			p := file.Principal{Subject: "user" + string(rune('a'+i))}
			data := bytes.Repeat([]byte{byte(i)}, 300<<10)
			f, err := s.Upload(context.Background(), p, mongo.Meta{Name: "f", Size: int64(len(data)), Store: true}, bytes.NewReader(data))
			if err != nil {
				errc <- err
				return
			}
			_, r, err := s.Open(context.Background(), p, f.ID)
			if err != nil {
				errc <- err
				return
			}
			got, err := io.ReadAll(r)
			_ = r.Close()
			if err == nil && !bytes.Equal(got, data) {
				err = errors.New("content differs")
			}
			if err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
