package observe_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/observe"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

var product = dataproduct.Product{
	Domain: "quality", Name: "summaries", Major: 1, Owner: "quality-team",
	Message: &platformv1.ProductSummary{}, Classification: dataproduct.ClassInternal,
}

func TestObserve(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := testinfra.StartNATS(t)
	js := n.JetStream(t)
	o := observe.New(js)

	missing := o.Observe(ctx, product.StreamName(), product.ID())
	if !missing.Readable || missing.StreamExists || missing.Err != nil {
		t.Errorf("before provisioning: %+v, want readable and no stream", missing)
	}

	if _, err := dataproduct.Provision(ctx, js, product); err != nil {
		t.Fatal(err)
	}
	empty := o.Observe(ctx, product.StreamName(), product.ID())
	if !empty.StreamExists || empty.Messages != 0 || !empty.LastTime.IsZero() || len(empty.Consumers) != 0 {
		t.Errorf("empty stream: %+v", empty)
	}

	pub, err := dataproduct.NewPublisher(js, product)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b", "a"} {
		if _, err := pub.Publish(ctx, key, &platformv1.ProductSummary{Name: key}); err != nil {
			t.Fatal(err)
		}
	}
	for _, cfg := range []jetstream.ConsumerConfig{
		{Durable: product.DurableName("scheduling"), FilterSubject: product.SubjectFilter(), AckPolicy: jetstream.AckExplicitPolicy},
		{Durable: "dashboard", FilterSubjects: []string{"dp.quality.summaries.v1.a"}, AckPolicy: jetstream.AckExplicitPolicy},
		{FilterSubject: product.SubjectFilter()}, // ephemeral: left out
	} {
		if _, err := js.CreateOrUpdateConsumer(ctx, product.StreamName(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	// scheduling takes one event and leaves it unacknowledged.
	c, err := js.Consumer(ctx, product.StreamName(), product.DurableName("scheduling"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(jetstream.FetchMaxWait(10 * time.Second)); err != nil {
		t.Fatal(err)
	}

	full := o.Observe(ctx, product.StreamName(), product.ID())
	if full.Messages != 3 || full.FirstSeq != 1 || full.LastSeq != 3 || full.Bytes == 0 || full.LastTime.IsZero() || full.Err != nil {
		t.Errorf("stream state: %+v", full)
	}
	if f := catalog.Assess(full, time.Hour); f.State != catalog.Fresh {
		t.Errorf("freshness right after publishing = %v", f.State)
	}
	var got []string
	for _, c := range full.Consumers {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, []string{"dashboard", "scheduling--quality_summaries_v1"}) {
		t.Fatalf("consumers = %v", got)
	}
	dash, sched := full.Consumers[0], full.Consumers[1]
	if dash.Domain != "" || dash.NumPending != 2 || !slices.Equal(dash.FilterSubjects, []string{"dp.quality.summaries.v1.a"}) {
		t.Errorf("dashboard = %+v, want no domain, 2 pending, its filter", dash)
	}
	if sched.Domain != "scheduling" || sched.NumPending != 2 || sched.NumAckPending != 1 || sched.LastActive.IsZero() ||
		!slices.Equal(sched.FilterSubjects, []string{"dp.quality.summaries.v1.>"}) {
		t.Errorf("scheduling = %+v, want domain, 2 pending, 1 awaiting ack, activity, its filter", sched)
	}
	if d := full.ConsumerDomains(); !slices.Equal(d, []string{"scheduling"}) {
		t.Errorf("consumer domains = %v", d)
	}
}

func TestObserveUnreachable(t *testing.T) {
	t.Parallel()
	n := testinfra.StartNATS(t)
	nc := n.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	o := observe.New(js).Observe(context.Background(), "ANY", "a.b.v1")
	if o.Readable || o.Err == nil {
		t.Errorf("closed connection: %+v, want unreadable with an error", o)
	}
	if f := catalog.Assess(o, time.Minute); f.State != catalog.Unknown {
		t.Errorf("freshness = %v, want UNKNOWN", f.State)
	}
}
