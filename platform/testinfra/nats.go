package testinfra

import (
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/localserver"
	"meshwork.dev/platform/natsauth"
)

// NATS is an in-process nats-server with JetStream and MQTT that belongs to one test. It
// requires authentication, as every mesh server does: URL carries the credentials of a static
// test user that may do anything but change the audit stream, and every other client is asked
// about through the auth callout (natsauth), which a test serves with ServeCallout.
type NATS struct {
	// URL is the client URL with the test user's credentials, nats://test:…@127.0.0.1:port.
	URL string
	// Addr is the client URL without credentials, nats://127.0.0.1:port.
	Addr string
	// User and Password are the test user's credentials in URL, for MQTT clients too.
	User, Password string
	// Keys are the server's authentication secrets (the callout's issuer and static users).
	Keys natsauth.Keys
	// MQTTAddr is the MQTT listener, 127.0.0.1:port.
	MQTTAddr string
	// Server is the embedded server.
	Server *server.Server
}

// StartNATS starts a fresh server for t, with its JetStream store in a temporary directory and
// MQTT on a free port. t's cleanup shuts it down and removes the directory.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	keys, err := natsauth.NewKeys()
	if err != nil {
		t.Fatalf("testinfra.StartNATS: %v", err)
	}
	test := natsauth.StaticUser{Name: TestUser, Password: keys.GovernancePassword + "-test"}
	n, err := localserver.StartNATS(localserver.NATSOptions{
		Dir:         t.TempDir(),
		MonitorPort: -1,
		ServerName:  "testinfra",
		Auth:        &keys,
		Users:       []natsauth.StaticUser{test},
	})
	if err != nil {
		t.Fatalf("testinfra.StartNATS: %v", err)
	}
	t.Cleanup(n.Shutdown)
	u, err := url.Parse(n.URL())
	if err != nil {
		t.Fatalf("testinfra.StartNATS: %v", err)
	}
	u.User = url.UserPassword(test.Name, test.Password)
	return &NATS{URL: u.String(), Addr: n.URL(), User: test.Name, Password: test.Password, Keys: keys, MQTTAddr: n.MQTTAddr(), Server: n.Server()}
}

// TestUser is the static user of NATS.URL.
const TestUser = "test"

// ConnectAs opens a connection as a static user of natsauth (natsauth.GovernanceUser,
// natsauth.AuthUser, natsauth.SystemUser), closed at t's cleanup.
func (n *NATS) ConnectAs(t testing.TB, user string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	pw := map[string]string{natsauth.AuthUser: n.Keys.AuthPassword, natsauth.GovernanceUser: n.Keys.GovernancePassword,
		natsauth.SystemUser: n.Keys.SystemPassword}[user]
	if pw == "" {
		t.Fatalf("testinfra.ConnectAs: %q is not a static user", user)
	}
	opts = append([]nats.Option{nats.Name(t.Name()), nats.Timeout(5 * time.Second), nats.UserInfo(user, pw)}, opts...)
	nc, err := nats.Connect(n.Addr, opts...)
	if err != nil {
		t.Fatalf("testinfra: connect to NATS as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// ServeCallout answers the server's authorization requests with a natsauth.Callout configured
// by cfg (Issuer is filled in from Keys) until t ends, and returns it.
func (n *NATS) ServeCallout(t testing.TB, cfg natsauth.Config) *natsauth.Callout {
	t.Helper()
	kp, err := n.Keys.Issuer()
	if err != nil {
		t.Fatalf("testinfra.ServeCallout: %v", err)
	}
	cfg.Issuer = kp
	c := natsauth.NewCallout(cfg)
	if _, err := c.Serve(n.ConnectAs(t, natsauth.AuthUser)); err != nil {
		t.Fatalf("testinfra.ServeCallout: %v", err)
	}
	return c
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
