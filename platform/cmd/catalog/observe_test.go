package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
)

func (c *catalogUnderTest) observed(t *testing.T, name string) *platformv1.ObservedState {
	t.Helper()
	resp, err := c.viewer.GetProduct(c.ctx, &platformv1.GetProductRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetObserved()
}

func TestObservedState(t *testing.T) {
	t.Parallel()
	c := start(t)
	c.register(t, summaries.Descriptor())
	if o := c.observed(t, "quality.summaries.v1"); o.GetStreamExists() || o.GetFreshness().GetState() != platformv1.FreshnessState_FRESHNESS_STATE_UNKNOWN {
		t.Errorf("before provisioning: %v, want no stream and UNKNOWN", o)
	}
	if _, err := dataproduct.Provision(c.ctx, c.js, summaries); err != nil {
		t.Fatal(err)
	}
	o := c.observed(t, "quality.summaries.v1")
	if !o.GetStreamExists() || o.GetMessages() != 0 || o.GetFreshness().GetState() != platformv1.FreshnessState_FRESHNESS_STATE_EMPTY ||
		o.GetFreshness().GetObjective().AsDuration() != summaries.Freshness || o.GetObservedAt() == nil {
		t.Errorf("provisioned, empty: %v", o)
	}

	pub, err := dataproduct.NewPublisher(c.js, summaries)
	if err != nil {
		t.Fatal(err)
	}
	published := 0
	publish := func() {
		t.Helper()
		published++
		if _, err := pub.Publish(c.ctx, "p1", &platformv1.ProductSummary{Name: fmt.Sprint(published)}); err != nil {
			t.Fatal(err)
		}
	}
	state := func() platformv1.FreshnessState {
		return c.observed(t, "quality.summaries.v1").GetFreshness().GetState()
	}
	// Publish until an answer comes within the 2s objective (the first one does unless the
	// machine stalls), then wait for the event to age past it, then publish again.
	poll(t, "FRESH after publishing", func() bool { publish(); return state() == platformv1.FreshnessState_FRESHNESS_STATE_FRESH })
	poll(t, "STALE after the objective", func() bool { return state() == platformv1.FreshnessState_FRESHNESS_STATE_STALE })
	stale := c.observed(t, "quality.summaries.v1")
	if stale.GetFreshness().GetAge().AsDuration() <= summaries.Freshness {
		t.Errorf("STALE with age %v, objective %v", stale.GetFreshness().GetAge().AsDuration(), summaries.Freshness)
	}
	poll(t, "FRESH again", func() bool { publish(); return state() == platformv1.FreshnessState_FRESHNESS_STATE_FRESH })

	o = c.observed(t, "quality.summaries.v1")
	if o.GetMessages() != uint64(published) || o.GetFirstSequence() != 1 || o.GetLastSequence() != uint64(published) ||
		o.GetBytes() == 0 || o.GetLastMessageTime() == nil {
		t.Errorf("stream state after %d events: %v", published, o)
	}

	// A consuming domain's durable: its lag is every event it has not fetched.
	if _, err := c.js.CreateOrUpdateConsumer(c.ctx, summaries.StreamName(), jetstream.ConsumerConfig{
		Durable: summaries.DurableName("scheduling"), FilterSubject: summaries.SubjectFilter(), AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	cons := c.observed(t, "quality.summaries.v1").GetConsumers()
	if len(cons) != 1 {
		t.Fatalf("consumers = %v", cons)
	}
	if s := cons[0]; s.GetName() != "scheduling--quality_summaries_v1" || s.GetConsumerDomain() != "scheduling" ||
		!slices.Equal(s.GetFilterSubjects(), []string{"dp.quality.summaries.v1.>"}) || s.GetNumPending() != uint64(published) {
		t.Errorf("consumer = %v, want scheduling lagging %d", s, published)
	}
}

func TestLineage(t *testing.T) {
	t.Parallel()
	c := start(t)
	c.register(t, summaries.Descriptor())
	c.register(t, plans.Descriptor())
	if _, err := dataproduct.Provision(c.ctx, c.js, summaries); err != nil {
		t.Fatal(err)
	}
	// scheduling consumes summaries as it declared; logistics consumes without declaring.
	for _, domain := range []string{"scheduling", "logistics"} {
		if _, err := c.js.CreateOrUpdateConsumer(c.ctx, summaries.StreamName(), jetstream.ConsumerConfig{
			Durable: summaries.DurableName(domain), AckPolicy: jetstream.AckExplicitPolicy,
		}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		depth int32
		nodes []string
		edges []string
	}{
		{"scheduling.plans.v1", 0,
			[]string{"product:scheduling.plans.v1", "product:quality.summaries.v1", "product:files.reports.v1"},
			[]string{
				"product:quality.summaries.v1>product:scheduling.plans.v1 LINEAGE_EDGE_STATUS_CONFIRMED",
				"product:files.reports.v1>product:scheduling.plans.v1 LINEAGE_EDGE_STATUS_DECLARED_ONLY",
			}},
		{"quality.summaries.v1", 1,
			[]string{"product:quality.summaries.v1", "product:scheduling.plans.v1", "domain:logistics"},
			[]string{
				"product:quality.summaries.v1>product:scheduling.plans.v1 LINEAGE_EDGE_STATUS_CONFIRMED",
				"product:quality.summaries.v1>domain:logistics LINEAGE_EDGE_STATUS_OBSERVED_ONLY",
			}},
	}
	for _, tt := range tests {
		resp, err := c.viewer.GetLineage(c.ctx, &platformv1.GetLineageRequest{Name: tt.name, Depth: tt.depth})
		if err != nil {
			t.Fatal(err)
		}
		var nodes, edges []string
		for _, n := range resp.GetNodes() {
			nodes = append(nodes, n.GetId())
		}
		for _, e := range resp.GetEdges() {
			edges = append(edges, e.GetFrom()+">"+e.GetTo()+" "+e.GetStatus().String())
		}
		if !slices.Equal(nodes, tt.nodes) || !slices.Equal(edges, tt.edges) {
			t.Errorf("lineage of %s:\n nodes %v\n edges %v\nwant %v\n      %v", tt.name, nodes, edges, tt.nodes, tt.edges)
		}
		if k := resp.GetNodes()[len(resp.GetNodes())-1].GetKind(); tt.name == "quality.summaries.v1" && k != platformv1.LineageNodeKind_LINEAGE_NODE_KIND_DOMAIN {
			t.Errorf("logistics node kind = %v", k)
		}
	}
	_, err := c.viewer.GetLineage(c.ctx, &platformv1.GetLineageRequest{Name: "quality.summaries.v1", Depth: -1})
	if badRequest(err)["depth"] == "" {
		t.Errorf("negative depth: %v, want InvalidArgument naming depth", err)
	}
}
