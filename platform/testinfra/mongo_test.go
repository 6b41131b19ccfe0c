package testinfra_test

import (
	"bytes"
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/platform/testinfra"
)

func TestMongoInsertFind(t *testing.T) {
	t.Parallel()
	m := testinfra.StartMongo(t)
	coll := m.Client(t).Database(m.Database).Collection("machines")
	ctx := context.Background()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "m-1"}, {Key: "site", Value: "north"}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got struct {
		ID   string `bson:"_id"`
		Site string `bson:"site"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "site", Value: "north"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.ID != "m-1" || got.Site != "north" {
		t.Fatalf("found %+v, want m-1 at north", got)
	}
}

func TestMongoGridFSRoundTrip(t *testing.T) {
	t.Parallel()
	m := testinfra.StartMongo(t)
	bucket := m.Client(t).Database(m.Database).GridFSBucket(options.GridFSBucket().SetChunkSizeBytes(1024))
	ctx := context.Background()
	want := bytes.Repeat([]byte("meshwork report "), 500) // 8000 bytes: several chunks
	id, err := bucket.UploadFromStream(ctx, "report.txt", bytes.NewReader(want))
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	var got bytes.Buffer
	if _, err := bucket.DownloadToStream(ctx, id, &got); err != nil {
		t.Fatalf("download: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("downloaded %d bytes, want the %d uploaded", got.Len(), len(want))
	}
}

// TestMongoDatabasesAreSeparate checks that each call gets its own database and that it is
// dropped at cleanup.
func TestMongoDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	outer := testinfra.StartMongo(t)
	client := outer.Client(t)
	var inner string
	t.Run("inner", func(t *testing.T) {
		m := testinfra.StartMongo(t)
		inner = m.Database
		if m.Database == outer.Database {
			t.Fatalf("both calls got database %s", m.Database)
		}
		if _, err := client.Database(m.Database).Collection("c").InsertOne(context.Background(), bson.D{{Key: "x", Value: 1}}); err != nil {
			t.Fatalf("insert: %v", err)
		}
		if !hasDatabase(t, client, m.Database) {
			t.Fatalf("database %s not listed after an insert", m.Database)
		}
	})
	if hasDatabase(t, client, inner) {
		t.Fatalf("database %s still exists after its test's cleanup", inner)
	}
}

func hasDatabase(t *testing.T, client *mongo.Client, name string) bool {
	t.Helper()
	names, err := client.ListDatabaseNames(context.Background(), bson.D{})
	if err != nil {
		t.Fatalf("list databases: %v", err)
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
