package localserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// FerretDBOptions configures StartFerretDB.
type FerretDBOptions struct {
	// Dir holds the SQLite files, one per database; it is created if missing and reused otherwise.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 lets the listener pick a free one.
	Port int
	// Log receives FerretDB's log at info level; nil logs only warnings to stderr (and, for
	// client connections, only errors: FerretDB warns about every error it answers a client).
	Log io.Writer
}

// FerretDB is an in-process FerretDB speaking the MongoDB wire protocol over SQLite files.
type FerretDB struct {
	uri      string
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// ferretNew serialises ferretdb.New, which writes package-level state.
var ferretNew sync.Mutex

// StartFerretDB starts FerretDB with the SQLite backend and returns once it accepts connections.
func StartFerretDB(ctx context.Context, opts FerretDBOptions) (*FerretDB, error) {
	const op = "localserver.StartFerretDB"
	if opts.Dir == "" {
		return nil, fmt.Errorf("%s: Dir is required", op)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	logger := ferretLogger(opts.Log, os.Stderr)
	ferretNew.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port))},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	ferretNew.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	// New has bound the listener, so MongoDBURI does not block.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	fd := &FerretDB{uri: f.MongoDBURI(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(fd.done)
		_ = f.Run(runCtx) // it returns nil once runCtx is cancelled
	}()
	u, err := url.Parse(fd.uri)
	if err != nil {
		fd.cancel()
		<-fd.done
		return nil, fmt.Errorf("%s: URI %q: %w", op, fd.uri, err)
	}
	if err := waitTCP(u.Host, time.Now().Add(10*time.Second)); err != nil {
		fd.cancel()
		<-fd.done
		return nil, fmt.Errorf("%s: not accepting connections on %s: %w", op, u.Host, err)
	}
	return fd, nil
}

// URI is the MongoDB connection string, mongodb://127.0.0.1:port/.
func (f *FerretDB) URI() string { return f.uri }

// Stop cancels FerretDB's run context and waits until its listener and connections are closed.
// It is safe to call more than once; if ctx ends first Stop returns its error and the shutdown
// finishes in the background.
func (f *FerretDB) Stop(ctx context.Context) error {
	f.stopOnce.Do(f.cancel)
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("localserver.FerretDB.Stop: %w", ctx.Err())
	}
}
