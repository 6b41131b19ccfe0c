package testinfra

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/localserver"
	"meshwork.dev/platform/natsauth"
)

// NATSCluster is a three-node nats-server cluster in the test process, routed on loopback,
// each node with its own JetStream store and `sync_interval: always`, authenticating like
// every mesh server (see NATS). The embedded NATS's URL and Addr list every node, so clients
// fail over; its Server and MQTTAddr are the first node's.
type NATSCluster struct {
	*NATS
	// Cluster is the running cluster, for stopping and restarting nodes.
	Cluster *localserver.NATSCluster
}

// StartNATSCluster starts a fresh cluster for t, its stores in a temporary directory. It
// returns once every node is healthy; t's cleanup shuts every node down.
func StartNATSCluster(t testing.TB) *NATSCluster {
	t.Helper()
	keys, err := natsauth.NewKeys()
	if err != nil {
		t.Fatalf("testinfra.StartNATSCluster: %v", err)
	}
	test := natsauth.StaticUser{Name: TestUser, Password: keys.GovernancePassword + "-test"}
	c, err := localserver.StartNATSCluster(localserver.NATSClusterOptions{Dir: t.TempDir(), Node: localserver.NATSOptions{
		Auth:       &keys,
		Users:      []natsauth.StaticUser{test},
		SyncAlways: true,
	}})
	if err != nil {
		t.Fatalf("testinfra.StartNATSCluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	var withUser []string
	for _, a := range c.URLs() {
		u, err := url.Parse(a)
		if err != nil {
			t.Fatalf("testinfra.StartNATSCluster: %v", err)
		}
		u.User = url.UserPassword(test.Name, test.Password)
		withUser = append(withUser, u.String())
	}
	first := c.Nodes()[0]
	return &NATSCluster{NATS: &NATS{URL: strings.Join(withUser, ","), Addr: c.URL(), User: test.Name, Password: test.Password,
		Keys: keys, MQTTAddr: first.MQTTAddr(), Server: first.Server()}, Cluster: c}
}

// requestTimeout bounds one JetStream API request while a cluster fails over: a request that
// reaches a node during an election is dropped, not answered, and would otherwise wait for
// its whole context.
const requestTimeout = 2 * time.Second

// WaitStreamLeader asks js, one short request after another, for the leader of stream until
// one other than not is elected with every replica current, and returns its server name. It
// fails t when none is elected before ctx ends.
func WaitStreamLeader(ctx context.Context, t testing.TB, js jetstream.JetStream, stream, not string) string {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		leader, err := streamLeader(rctx, js, stream)
		cancel()
		if err == nil && leader != "" && leader != not {
			return leader
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("testinfra.WaitStreamLeader: no leader of %s other than %q: %v (last error: %v)", stream, not, ctx.Err(), last)
	return ""
}

func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	// Stream caches the info it fetched; ask again for the current leader.
	si, err := s.Info(ctx)
	if err != nil {
		return "", err
	}
	if si.Cluster == nil {
		return "", errors.New("stream has no cluster info: not clustered")
	}
	return si.Cluster.Leader, nil
}
