package main

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
)

// TestInterruptedUploadLeavesNothing cancels an upload stream half way: no file is visible
// and GridFS holds no chunks once the server has noticed.
func TestInterruptedUploadLeavesNothing(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	base := f.as(t, "alice", "engineer")
	ctx, cancel := context.WithCancel(base)
	st, err := f.client.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&filesv1.UploadRequest{Part: &filesv1.UploadRequest_Metadata{Metadata: &filesv1.UploadMetadata{Name: "half", Size: 64 << 20, Store: true}}}); err != nil {
		t.Fatal(err)
	}
	for range 20 { // more than the driver's 16 MiB upload buffer
		if err := st.Send(&filesv1.UploadRequest{Part: &filesv1.UploadRequest_Chunk{Chunk: make([]byte, 1<<20)}}); err != nil {
			t.Fatal(err)
		}
	}
	db, closeDB, err := openDB(base, env["MONGODB_URI"])
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	chunks := db.Collection("content.chunks")
	// Wait until the server has written some chunks, so the abort has something to delete.
	for deadline := time.Now().Add(waitLimit); ; {
		n, _ := chunks.CountDocuments(base, bson.D{})
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no chunk ever written")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	for deadline := time.Now().Add(waitLimit); ; {
		n, _ := chunks.CountDocuments(base, bson.D{})
		m, _ := db.Collection("content.files").CountDocuments(base, bson.D{{Key: "filename", Value: bson.D{{Key: "$ne", Value: "pending/migrate"}}}})
		if n == 0 && m == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d chunks and %d GridFS files left after the interrupted upload", n, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	list, err := f.client.ListFiles(base, &filesv1.ListFilesRequest{IncludeDeleted: true})
	if err != nil || len(list.GetFiles()) != 0 {
		t.Fatalf("files after the interrupted upload: %v %v", list.GetFiles(), err)
	}
	if n, _ := db.Collection("files").CountDocuments(base, bson.D{}); n != 0 {
		t.Fatalf("%d metadata documents after the interrupted upload", n)
	}
}
