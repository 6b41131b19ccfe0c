package testinfra

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"meshwork.dev/platform/localserver"
)

// Mongo is a fresh database, owned by one test, in the test binary's shared FerretDB.
type Mongo struct {
	// URI is the server's connection string, mongodb://127.0.0.1:port/.
	URI string
	// Database is the database's unique name.
	Database string
}

// ferret is the test binary's one FerretDB, started by the first StartMongo.
var ferret struct {
	once sync.Once
	srv  *localserver.FerretDB
	err  error
}

// StartMongo returns a database with a unique name in the shared FerretDB (starting it on first
// use) and drops it at t's cleanup. It fails t when the test binary does not use Main.
func StartMongo(t testing.TB) *Mongo {
	t.Helper()
	requireMain(t, "StartMongo")
	ferret.once.Do(func() { ferret.srv, ferret.err = startFerret() })
	if ferret.err != nil {
		t.Fatalf("testinfra.StartMongo: %v", ferret.err)
	}
	m := &Mongo{URI: ferret.srv.URI(), Database: databaseName(t.Name(), dbSeq.Add(1))}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := mongo.Connect(options.Client().ApplyURI(m.URI))
		if err != nil {
			t.Errorf("testinfra: drop database %s: %v", m.Database, err)
			return
		}
		defer func() { _ = c.Disconnect(ctx) }()
		if err := c.Database(m.Database).Drop(ctx); err != nil {
			t.Errorf("testinfra: drop database %s: %v", m.Database, err)
		}
	})
	return m
}

// startFerret starts the shared FerretDB with its SQLite files in a new temporary directory.
func startFerret() (*localserver.FerretDB, error) {
	dir, err := os.MkdirTemp("", "testinfra-ferretdb-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := localserver.StartFerretDB(ctx, localserver.FerretDBOptions{Dir: dir})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := srv.Stop(ctx)
		if rmErr := os.RemoveAll(dir); err == nil && rmErr != nil {
			err = fmt.Errorf("remove %s: %w", dir, rmErr)
		}
		return err
	}
	if !addShared(stop) {
		_ = stop()
		return nil, fmt.Errorf("the tests have already finished")
	}
	return srv, nil
}

// Client connects a mongo-driver v2 client to the server, disconnected at t's cleanup. Use
// client.Database(m.Database).
func (m *Mongo) Client(t testing.TB) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI))
	if err != nil {
		t.Fatalf("testinfra: connect to %s: %v", m.URI, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	return c
}
