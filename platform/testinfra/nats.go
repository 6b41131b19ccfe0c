package testinfra

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/localserver"
)

// NATS is an in-process nats-server with JetStream and MQTT that belongs to one test.
type NATS struct {
	// URL is the client URL, nats://127.0.0.1:port.
	URL string
	// MQTTAddr is the MQTT listener, 127.0.0.1:port.
	MQTTAddr string
	// Server is the embedded server.
	Server *server.Server
}

// StartNATS starts a fresh server for t, with its JetStream store in a temporary directory and
// MQTT on a free port. t's cleanup shuts it down and removes the directory.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n, err := localserver.StartNATS(localserver.NATSOptions{
		Dir:         t.TempDir(),
		MonitorPort: -1,
		ServerName:  "testinfra",
	})
	if err != nil {
		t.Fatalf("testinfra.StartNATS: %v", err)
	}
	t.Cleanup(n.Shutdown)
	return &NATS{URL: n.URL(), MQTTAddr: n.MQTTAddr(), Server: n.Server()}
}

// Connect opens a client connection to the server, closed at t's cleanup.
func (n *NATS) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.Name(t.Name()), nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		t.Fatalf("testinfra: connect to NATS %s: %v", n.URL, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context over a new connection, closed at t's cleanup.
func (n *NATS) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(n.Connect(t))
	if err != nil {
		t.Fatalf("testinfra: JetStream: %v", err)
	}
	return js
}
