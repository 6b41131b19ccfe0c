package localserver_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/platform/localserver"
)

// TestFerretDBRestartKeepsData inserts a document, restarts on the same dir and finds it.
func TestFerretDBRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(f func(coll *mongo.Collection)) {
		fd, err := localserver.StartFerretDB(ctx, localserver.FerretDBOptions{Dir: dir})
		if err != nil {
			t.Fatalf("StartFerretDB: %v", err)
		}
		c, err := mongo.Connect(options.Client().ApplyURI(fd.URI()))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		f(c.Database("app").Collection("things"))
		_ = c.Disconnect(ctx)
		for range 2 { // Stop is idempotent
			if err := fd.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		}
	}
	run(func(coll *mongo.Collection) {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 7}}); err != nil {
			t.Fatalf("insert: %v", err)
		}
	})
	run(func(coll *mongo.Collection) {
		var got struct {
			N int `bson:"n"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
			t.Fatalf("find after restart: %v", err)
		}
		if got.N != 7 {
			t.Fatalf("n = %d after restart, want 7", got.N)
		}
	})
}

// TestFerretDBSocket: on a Unix socket FerretDB has no TCP listener, its directory admits only
// this user, and the URI it gives works with the MongoDB driver; a stale socket is replaced.
func TestFerretDBSocket(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sock := filepath.Join(t.TempDir(), "run", "ferretdb.sock")
	for round := range 2 {
		fd, err := localserver.StartFerretDB(ctx, localserver.FerretDBOptions{Dir: t.TempDir(), Socket: sock})
		if err != nil {
			t.Fatalf("round %d: StartFerretDB: %v", round, err)
		}
		if strings.Contains(fd.URI(), "127.0.0.1") || !strings.Contains(fd.URI(), "%2Fferretdb.sock") {
			t.Fatalf("URI %q, want the escaped socket path", fd.URI())
		}
		c, err := mongo.Connect(options.Client().ApplyURI(fd.URI() + "app"))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		if _, err := c.Database("app").Collection("things").InsertOne(ctx, bson.D{{Key: "n", Value: round}}); err != nil {
			t.Fatalf("insert over the socket: %v", err)
		}
		_ = c.Disconnect(ctx)
		fi, err := os.Stat(filepath.Dir(sock))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("socket dir: %v, %v; want 0700", fi, err)
		}
		if round == 0 {
			// Stop without a clean close of the socket file: the next start must not trip on it.
			if err := fd.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(sock); err != nil {
				if l, err := net.Listen("unix", sock); err == nil {
					l.(*net.UnixListener).SetUnlinkOnClose(false)
					_ = l.Close()
				}
			}
			continue
		}
		if _, err := localserver.StartFerretDB(ctx, localserver.FerretDBOptions{Dir: t.TempDir(), Socket: sock}); err == nil ||
			!strings.Contains(err.Error(), "in use") {
			t.Errorf("second server on a live socket: %v, want in use", err)
		}
		if err := fd.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 120), "ferretdb.sock")
	if _, err := localserver.StartFerretDB(ctx, localserver.FerretDBOptions{Dir: t.TempDir(), Socket: long}); err == nil ||
		!strings.Contains(err.Error(), "107 bytes") {
		t.Errorf("long socket path: %v, want the 107-byte limit", err)
	}
}
