package launcher

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/natsauth"
	"meshwork.dev/platform/testinfra"
)

// TestInfraHAKeepsAckedEventsWhenANodeDies starts the infrastructure of `meshctl up --ha`,
// checks what a service is given (NATS_URL naming the three nodes, NATS_REPLICAS=3), publishes
// through the SDK on that URL, kills the stream's leader and reads every acknowledged event
// back.
func TestInfraHAKeepsAckedEventsWhenANodeDies(t *testing.T) {
	t.Parallel()
	keys, err := natsauth.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	inf := startInfra(t, InfraOptions{Dir: reachableDir(t), NATSAuth: &keys, HA: true})
	ep := inf.Endpoints()
	c := inf.NATSCluster()
	if c == nil || ep.NATS != c.URL() || len(strings.Split(ep.NATS, ",")) != 3 || ep.NATSReplicas != 3 {
		t.Fatalf("endpoints NATS %q, replicas %d: want the three nodes and 3", ep.NATS, ep.NATSReplicas)
	}
	env := strings.Join(childEnv(Service{Name: "quality"}, nil, ep, func(string) string { return "" }), "\n")
	for _, want := range []string{"NATS_URL=" + ep.NATS, "NATS_REPLICAS=3"} {
		if !strings.Contains(env, want) {
			t.Errorf("a service's environment lacks %s:\n%s", want, env)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The governance user may publish on dp.governance.>; services come in through the callout.
	nc, err := nats.Connect(ep.NATS, nats.UserInfo(natsauth.GovernanceUser, keys.GovernancePassword), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	p := dataproduct.Product{Domain: "governance", Name: "ha-test", Major: 1, Owner: "platform", Contact: "platform@example.com",
		Description: "HA test events", Message: &wrapperspb.StringValue{}, Classification: dataproduct.ClassInternal,
		Replicas: ep.NATSReplicas}
	s, err := dataproduct.Provision(ctx, js, p)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	pub, err := dataproduct.NewPublisher(js, p)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		if _, err := pub.Publish(ctx, "k", wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	si, err := s.Info(ctx)
	if err != nil || si.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	for i, node := range c.Nodes() {
		if node.Server().Name() == si.Cluster.Leader {
			c.StopNode(i)
		}
	}
	testinfra.WaitStreamLeader(ctx, t, js, p.StreamName(), si.Cluster.Leader)
	st, err := js.Stream(ctx, p.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if _, err := st.GetMsg(ctx, seq); err != nil {
			t.Errorf("acknowledged event %d is gone after %s died: %v", seq, si.Cluster.Leader, err)
		}
	}
}
