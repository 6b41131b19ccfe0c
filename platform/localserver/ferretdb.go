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
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// FerretDBOptions configures StartFerretDB.
type FerretDBOptions struct {
	// Dir holds the SQLite files, one per database; it is created if missing and reused otherwise.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 lets the listener pick a free one. Unused with Socket.
	Port int
	// Socket, when set, is the path of a Unix socket to listen on instead of TCP. FerretDB v1's
	// embedded server has no authentication, so this is how its clients are limited: its
	// directory is made 0700, and only this OS user (and root) can connect. The kernel limits the
	// path to 107 bytes.
	Socket string
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
	listen := ferretdb.ListenerConfig{TCP: net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port))}
	if opts.Socket != "" {
		if listen, err = unixListener(opts.Socket); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	logger := ferretLogger(opts.Log, os.Stderr)
	ferretNew.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listen,
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
	addr := listen.Unix
	if addr != "" {
		fd.uri = socketURI(addr)
	} else if u, err := url.Parse(fd.uri); err == nil {
		addr = u.Host
	} else {
		fd.cancel()
		<-fd.done
		return nil, fmt.Errorf("%s: URI %q: %w", op, fd.uri, err)
	}
	if err := waitListening(addr, time.Now().Add(10*time.Second)); err != nil {
		fd.cancel()
		<-fd.done
		return nil, fmt.Errorf("%s: not accepting connections on %s: %w", op, addr, err)
	}
	return fd, nil
}

// URI is the MongoDB connection string: mongodb://127.0.0.1:port/, or with Socket the socket's
// path escaped in the host part, mongodb://%2Fpath%2Fto%2Fferretdb.sock/, as the MongoDB
// drivers read it.
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

// unixListener prepares a Unix socket path: its directory 0700, no stale socket left in it.
func unixListener(path string) (ferretdb.ListenerConfig, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return ferretdb.ListenerConfig{}, err
	}
	if len(path) > 107 {
		return ferretdb.ListenerConfig{}, fmt.Errorf("socket path %s is longer than 107 bytes", path)
	}
	if !strings.HasSuffix(path, ".sock") {
		// The MongoDB drivers take a host ending in .sock for a socket path.
		return ferretdb.ListenerConfig{}, fmt.Errorf("socket path %s does not end in .sock", path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ferretdb.ListenerConfig{}, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return ferretdb.ListenerConfig{}, err
	}
	// A socket left by a process that was killed would make the listen fail.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.Dial("unix", path); err == nil {
			_ = c.Close()
			return ferretdb.ListenerConfig{}, fmt.Errorf("socket %s is in use: is another FerretDB running?", path)
		}
		if err := os.Remove(path); err != nil {
			return ferretdb.ListenerConfig{}, err
		}
	}
	return ferretdb.ListenerConfig{Unix: path}, nil
}

// socketURI is the connection string of a Unix socket's absolute path.
func socketURI(path string) string {
	return "mongodb://" + url.PathEscape(path) + "/"
}
