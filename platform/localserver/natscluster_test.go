package localserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/localserver"
)

// TestNATSClusterReplicatesOnEveryNode checks that the three nodes form one cluster (the meta
// leader can place on all three as StartNATSCluster returns): an R3 stream created through
// one node has a leader and two current followers, every node fsyncs each write
// (sync_interval: always), and a message published through one node is read through another.
func TestNATSClusterReplicatesOnEveryNode(t *testing.T) {
	t.Parallel()
	c, err := localserver.StartNATSCluster(localserver.NATSClusterOptions{Dir: t.TempDir(),
		Node: localserver.NATSOptions{SyncAlways: true, MQTTPort: -1}})
	if err != nil {
		t.Fatalf("StartNATSCluster: %v", err)
	}
	defer c.Shutdown()
	urls := c.URLs()
	if len(urls) != localserver.DefaultClusterSize || c.URL() != strings.Join(urls, ",") {
		t.Fatalf("URLs = %v, URL = %q", urls, c.URL())
	}
	// As StartNATSCluster returns, the meta leader can place a replica on every node: it
	// has had each one's statsz (a peer it has not is "offline" to placement).
	leaders := 0
	for i, n := range c.Nodes() {
		if n.Server().JetStreamIsLeader() {
			leaders++
			if peers := n.Server().JetStreamClusterPeers(); len(peers) != localserver.DefaultClusterSize {
				t.Errorf("node %d leads the meta group and can place on %v only", i+1, peers)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("%d meta leaders, want 1", leaders)
	}
	for i, n := range c.Nodes() {
		v, err := n.Server().Varz(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !v.JetStream.Config.SyncAlways {
			t.Errorf("node %d: sync_always is off", i+1)
		}
		if v.Cluster.Name != "meshwork" || len(n.Server().ActivePeers()) != localserver.DefaultClusterSize {
			t.Errorf("node %d: cluster %q with peers %v", i+1, v.Cluster.Name, n.Server().ActivePeers())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := connectJS(t, urls[0])
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatalf("create R3 stream: %v", err)
	}
	if _, err := js.Publish(ctx, "r3.a", []byte("one")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream cluster info = %+v, want a leader and 2 replicas", info.Cluster)
	}
	s3, err := connectJS(t, urls[2]).Stream(ctx, "R3")
	if err != nil {
		t.Fatalf("stream through node 3: %v", err)
	}
	msg, err := s3.GetLastMsgForSubject(ctx, "r3.a")
	if err != nil || string(msg.Data) != "one" {
		t.Fatalf("read through node 3: %v, %v", msg, err)
	}
}

func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
