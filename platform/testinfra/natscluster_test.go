package testinfra_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/localserver"
	"meshwork.dev/platform/natsauth"
	"meshwork.dev/platform/testinfra"
)

// TestNATSClusterKeepsAckedMessagesWhenTheLeaderDies publishes through the SDK to an R3
// product stream, kills the node leading the stream (in this cluster the first to start is
// also the JetStream meta leader, so usually both die), and reads every acknowledged message
// back from the two survivors; publishing goes on after the kill.
func TestNATSClusterKeepsAckedMessagesWhenTheLeaderDies(t *testing.T) {
	t.Parallel()
	c := testinfra.StartNATSCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := c.JetStream(t)
	p := dataproduct.Product{Domain: "quality", Name: "clean-readings", Major: 1, Owner: "quality-team",
		Contact: "quality@example.com", Description: "test readings", Message: &wrapperspb.StringValue{},
		Classification: dataproduct.ClassInternal, Replicas: 3}
	s, err := dataproduct.Provision(ctx, js, p)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream replicas %d, cluster %+v: want R3 with a leader and two followers", info.Config.Replicas, info.Cluster)
	}
	pub, err := dataproduct.NewPublisher(js, p)
	if err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			body := fmt.Sprintf("reading-%d", i)
			acked[publishRetrying(ctx, t, pub, i, body)] = body
		}
	}
	publish(0, 300)

	leader := info.Cluster.Leader
	killed := slices.IndexFunc(c.Cluster.Nodes(), func(n *localserver.NATS) bool { return n.Server().Name() == leader })
	if killed < 0 {
		t.Fatalf("leader %q is none of the nodes", leader)
	}
	c.Cluster.StopNode(killed)

	// A client of a survivor: the stream elects a new leader among the two followers.
	urls := c.Cluster.URLs()
	sc, err := nats.Connect(urls[len(urls)-1], nats.UserInfo(c.User, c.Password))
	if err != nil {
		t.Fatalf("connect to survivor: %v", err)
	}
	defer sc.Close()
	sjs, err := jetstream.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	testinfra.WaitStreamLeader(ctx, t, sjs, p.StreamName(), leader)
	// The publisher's connection fails over to a survivor; the stream takes writes again.
	publish(300, 350)

	st, err := sjs.Stream(ctx, p.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range acked {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Errorf("acknowledged message %d (%s) is gone after the leader died: %v", seq, want, err)
			continue
		}
		var got wrapperspb.StringValue
		if err := proto.Unmarshal(m.Data, &got); err != nil || got.Value != want {
			t.Errorf("message %d = %q (%v), want %q", seq, got.Value, err, want)
		}
	}
	si, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != uint64(len(acked)) || len(acked) != 350 {
		t.Errorf("stream holds %d messages, %d were acknowledged, want 350", si.State.Msgs, len(acked))
	}
}

// publishRetrying publishes event i until it is acknowledged, each try bounded by a few
// seconds: a publish sent while the client reconnects or the stream elects a leader may go
// unanswered. The event id stays the same, so a retry of a write that did land is dropped as
// a duplicate and acknowledged with the first write's sequence.
func publishRetrying(ctx context.Context, t *testing.T, pub *dataproduct.Publisher, i int, body string) uint64 {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ack, err := pub.Publish(pctx, fmt.Sprintf("m%d", i%7), wrapperspb.String(body), dataproduct.WithEventID(fmt.Sprintf("event-%d", i)))
		cancel()
		if err == nil {
			return ack.Sequence
		}
		last = err
	}
	t.Fatalf("publish %d: %v (last error: %v)", i, ctx.Err(), last)
	return 0
}

// TestNATSClusterAuthCalloutOnEveryNode serves the auth callout through the first node and
// connects a mesh client to the last one: the server there asks the callout over the routes,
// as a domain connecting to any node of `meshctl up --ha` is admitted by the catalog.
func TestNATSClusterAuthCalloutOnEveryNode(t *testing.T) {
	t.Parallel()
	c := testinfra.StartNATSCluster(t)
	urls := c.Cluster.URLs()
	kp, err := c.Keys.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := nats.Connect(urls[0], nats.UserInfo(natsauth.AuthUser, c.Keys.AuthPassword))
	if err != nil {
		t.Fatalf("callout connection: %v", err)
	}
	defer auth.Close()
	callout := natsauth.NewCallout(natsauth.Config{Issuer: kp, Account: natsauth.Account,
		Passwords: map[string]string{natsauth.IdentityPrincipal: c.Keys.IdentityPassword},
		Domains:   func(context.Context) []string { return []string{"identity"} }})
	if _, err := callout.Serve(auth); err != nil {
		t.Fatalf("serve callout: %v", err)
	}
	if err := auth.Flush(); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(urls[2], nats.Token(c.Keys.IdentityCredential()), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("identity through the callout on another node: %v", err)
	}
	nc.Close()
	_, err = nats.Connect(urls[2], nats.Token(natsauth.IdentityPrincipal+":wrong"), nats.Timeout(10*time.Second))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authoriz") {
		t.Fatalf("a wrong password through the callout: %v, want an authorization error", err)
	}
}
