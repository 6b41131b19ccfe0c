package localserver_test

import (
	"context"
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
