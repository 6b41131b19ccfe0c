package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/mqtt"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

type registry map[string]readings.Spec

func (r registry) Known(m, s string) bool { _, ok := r[m+"/"+s]; return ok }

func (r registry) Spec(m, s string) (readings.Spec, bool) { sp, ok := r[m+"/"+s]; return sp, ok }

func publisher(t *testing.T, js jetstream.JetStream, p dataproduct.Product) *dataproduct.Publisher {
	t.Helper()
	pub, err := dataproduct.NewPublisher(js, p)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestMQTTReachesCleanReadings publishes readings with the MQTT client over TCP to the embedded
// server's MQTT port and reads them back from quality.clean-readings.v1, the spike flagged;
// a reading of an unknown sensor lands on the dead-letter subject with its reason.
func TestMQTTReachesCleanReadings(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := testinfra.StartNATS(t)
	nc := n.Connect(t)
	js := n.JetStream(t)
	for _, p := range stream.Products {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			t.Fatal(err)
		}
	}
	reg := registry{"m1/temp-1": {ID: "temp-1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute}}
	b, err := pipeline.StartBridge(ctx, js, publisher(t, js, stream.RawReadings), reg, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	proc := pipeline.NewProcessor(reg, pipeline.NewMemory(js))
	sub, err := proc.Subscribe(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop(ctx)
	dlq, err := nc.SubscribeSync(pipeline.DeadLetterSubject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	c, err := mqtt.Dial(ctx, n.MQTTAddr, "sensor-gw", n.User, n.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const count = 30
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	for i := range count {
		v := 40 + 0.1*float64(i%3)
		if i == 20 {
			v = 48 // a spike
		}
		payload := fmt.Sprintf(`{"value": %g, "time": %q, "seq": %d}`, v, start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), i)
		if err := c.Publish("factory/m1/temp-1", []byte(payload), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Publish("factory/m1/ghost", []byte(`{"value": 1}`), 1); err != nil {
		t.Fatal(err)
	}

	msg, err := dlq.NextMsg(60 * time.Second) // beyond the ingest consumer's 30 s AckWait
	if err != nil {
		t.Fatalf("no dead letter for the unknown sensor: %v", err)
	}
	if msg.Subject != "dlq.quality.quality.raw-readings.v1" || msg.Header.Get(dataproduct.HeaderDLQReason) == "" ||
		msg.Header.Get(dataproduct.HeaderDLQSubject) != "factory.m1.ghost" {
		t.Fatalf("dead letter %s %v", msg.Subject, msg.Header)
	}

	cons, err := js.OrderedConsumer(ctx, stream.CleanReadings.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range count {
		m, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Fatalf("clean reading %d: %v", i, err)
		}
		ev := &qualityv1.CleanReading{}
		if err := proto.Unmarshal(m.Data(), ev); err != nil {
			t.Fatal(err)
		}
		spike := len(ev.GetFlags()) > 0 && ev.GetFlags()[0] == qualityv1.ReadingFlag_READING_FLAG_SPIKE
		if ev.GetSensorId() != "temp-1" || ev.GetSourceEventId() == "" || spike != (i == 20) {
			t.Fatalf("clean reading %d: %v", i, ev)
		}
		if i == 20 && (ev.GetRawValue() != 48 || ev.GetValue() > 41) {
			t.Fatalf("spike: raw %v, value to use %v", ev.GetRawValue(), ev.GetValue())
		}
	}
}

// TestReadingsSentWhileDownAreKept starts and stops the bridge (the ingest stream exists from
// then on), publishes readings over NATS and MQTT while no bridge runs, then starts one and
// finds every reading in quality.clean-readings.v1.
func TestReadingsSentWhileDownAreKept(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := testinfra.StartNATS(t)
	nc := n.Connect(t)
	js := n.JetStream(t)
	for _, p := range stream.Products {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			t.Fatal(err)
		}
	}
	reg := registry{
		"m1/temp-1": {ID: "temp-1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute},
		"m1/temp-2": {ID: "temp-2", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute},
	}
	raw := publisher(t, js, stream.RawReadings)
	b, err := pipeline.StartBridge(ctx, js, raw, reg, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	b.Stop()

	c, err := mqtt.Dial(ctx, n.MQTTAddr, "sensor-gw", n.User, n.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const perChannel = 20
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	for i := range perChannel {
		body := fmt.Sprintf(`{"value": 40, "time": %q}`, start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
		if err := nc.Publish("ingest.quality.m1.temp-1", []byte(body)); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish("factory/m1/temp-2", []byte(body), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ingestStream, err := js.Stream(ctx, pipeline.IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := ingestStream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 2*perChannel {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("ingest stream holds %d readings, want %d", info.State.Msgs, 2*perChannel)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info, err := js.Stream(ctx, stream.RawReadings.StreamName()); err != nil {
		t.Fatal(err)
	} else if info.CachedInfo().State.Msgs != 0 {
		t.Fatalf("raw readings were forwarded while the bridge was down: %d", info.CachedInfo().State.Msgs)
	}

	b, err = pipeline.StartBridge(ctx, js, raw, reg, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	sub, err := pipeline.NewProcessor(reg, pipeline.NewMemory(js)).Subscribe(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop(ctx)
	cons, err := js.OrderedConsumer(ctx, stream.CleanReadings.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i := range 2 * perChannel {
		m, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Fatalf("clean reading %d: %v (got %v)", i, err, got)
		}
		ev := &qualityv1.CleanReading{}
		if err := proto.Unmarshal(m.Data(), ev); err != nil {
			t.Fatal(err)
		}
		got[ev.GetSensorId()]++
	}
	if got["temp-1"] != perChannel || got["temp-2"] != perChannel {
		t.Fatalf("clean readings per sensor %v, want %d each", got, perChannel)
	}
}

// TestTwoBridgesKeepMachineOrder runs two replicas' bridges on one ingest consumer: one of them
// forwards at a time (the consumer's pinned priority group), so raw readings keep a machine's
// arrival order instead of interleaving the two replicas' batches.
func TestTwoBridgesKeepMachineOrder(t *testing.T) {
	t.Parallel()
	ctx, n, nc, js, reg := bridgeTest(t, true)
	for range 2 {
		rjs := n.JetStream(t) // its own connection, as another process
		b, err := pipeline.StartBridge(ctx, rjs, publisher(t, rjs, stream.RawReadings), reg, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Stop()
	}
	const count = 400
	sendSequence(t, nc, count)
	var behind int
	last := uint64(0)
	for _, seq := range rawSeqs(t, ctx, js, count) {
		if seq < last {
			behind++
		}
		last = max(last, seq)
	}
	if behind > 0 {
		t.Errorf("%d of %d raw readings stored behind a later reading of their machine", behind, count)
	}
}

// TestBridgeCrashKeepsMachineOrder: the pinned bridge's connection drops while it holds
// readings it has not forwarded (a replica killed mid-batch). The other replica's bridge
// gets the pin only after those readings are due for redelivery, so it forwards them before
// anything newer: every reading reaches raw readings once, and none of the held ones is
// stored behind a reading the dropped bridge had not been given. (Among the held readings
// the server's redelivery order is not always the stream's: a few may swap; counted, logged.)
func TestBridgeCrashKeepsMachineOrder(t *testing.T) {
	t.Parallel()
	ctx, n, nc, js, reg := bridgeTest(t, true)
	timings := pipeline.IngestTimings{AckWait: 3 * time.Second, PullExpiry: time.Second}
	dying := n.Connect(t)
	djs, err := jetstream.New(dying)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.StartBridgeWith(ctx, djs, publisher(t, djs, stream.RawReadings), reg, slog.Default(), timings); err != nil {
		t.Fatal(err)
	}
	const count = 3000
	sendSequence(t, nc, count)
	raw, err := js.Stream(ctx, stream.RawReadings.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := raw.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= 300 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	dying.Close() // mid-stream: what its bridge had fetched stays unacknowledged
	ingest, err := js.Consumer(ctx, pipeline.IngestStream, pipeline.IngestConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ingest.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending == 0 {
		t.Fatalf("the bridge held no unacknowledged reading when its connection dropped (%d delivered): the test proves nothing", info.Delivered.Stream)
	}
	held := info.Delivered.Stream // readings 1..held were given to the dropped bridge
	t.Logf("the dropped bridge held %d readings; %d in raw readings", info.NumAckPending, held-uint64(info.NumAckPending))
	ojs := n.JetStream(t) // the other replica
	b, err := pipeline.StartBridgeWith(ctx, ojs, publisher(t, ojs, stream.RawReadings), reg, slog.Default(), timings)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	var behind, swapped int
	seen := map[uint64]bool{}
	last := uint64(0)
	for _, seq := range rawSeqs(t, ctx, js, count) {
		if seen[seq] {
			t.Fatalf("reading %d stored twice", seq)
		}
		seen[seq] = true
		switch {
		case seq <= held && last > held:
			behind++
			if behind <= 5 {
				t.Logf("held reading %d stored after reading %d", seq, last)
			}
		case seq < last && seq <= held:
			swapped++
		case seq < last:
			behind++ // a newer reading behind another: never expected
		}
		last = max(last, seq)
	}
	t.Logf("%d held readings redelivered out of stream order among themselves", swapped)
	if behind > 0 {
		t.Errorf("%d raw readings stored behind readings the dropped bridge had not been given", behind)
	}
}

// TestRefusedForwardKeepsMachineOrder: raw readings refuse every publish for a while (here
// the stream is missing; in the mesh a NATS node down or a leader being elected). The bridge
// tries each reading again in place, so when the stream is back every reading is stored once,
// in order, and none is dead-lettered: a nak would have let later readings overtake it.
func TestRefusedForwardKeepsMachineOrder(t *testing.T) {
	t.Parallel()
	ctx, _, nc, js, reg := bridgeTest(t, false)
	timings := pipeline.IngestTimings{AckWait: 10 * time.Second, PullExpiry: time.Second}
	b, err := pipeline.StartBridgeWith(ctx, js, publisher(t, js, stream.RawReadings), reg, slog.Default(), timings)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	const count = 200
	sendSequence(t, nc, count)
	time.Sleep(2 * time.Second) // the bridge meets a missing stream for a while
	if _, err := dataproduct.Provision(ctx, js, stream.RawReadings); err != nil {
		t.Fatal(err)
	}
	for i, seq := range rawSeqs(t, ctx, js, count) {
		if seq != uint64(i+1) {
			t.Fatalf("raw reading %d stored after %d", seq, i)
		}
	}
}

// bridgeTest starts the embedded NATS of a bridge test (raw readings provisioned unless not
// raw) and returns its context (ended with the test, 90 s at most), the server, a connection
// for devices, a JetStream context and the registry of sensor temp-1 of machine m1.
func bridgeTest(t *testing.T, raw bool) (context.Context, *testinfra.NATS, *nats.Conn, jetstream.JetStream, registry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	n := testinfra.StartNATS(t)
	js := n.JetStream(t)
	if raw {
		if _, err := dataproduct.Provision(ctx, js, stream.RawReadings); err != nil {
			t.Fatal(err)
		}
	}
	reg := registry{"m1/temp-1": {ID: "temp-1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}}
	return ctx, n, n.Connect(t), js, reg
}

// sendSequence publishes count readings of sensor temp-1 of machine m1 on its ingest subject,
// one second of sample time apart, seq 1..count.
func sendSequence(t *testing.T, nc *nats.Conn, count int) {
	t.Helper()
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	for i := range count {
		body := fmt.Sprintf(`{"value": 40, "time": %q, "seq": %d}`, start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i+1)
		if err := nc.Publish("ingest.quality.m1.temp-1", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// rawSeqs reads the first count raw readings in stream order and returns their device seqs.
func rawSeqs(t *testing.T, ctx context.Context, js jetstream.JetStream, count int) []uint64 {
	t.Helper()
	cons, err := js.OrderedConsumer(ctx, stream.RawReadings.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, 0, count)
	for len(seqs) < count {
		m, err := cons.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Fatalf("raw reading %d of %d: %v", len(seqs)+1, count, err)
		}
		r := &qualityv1.RawReading{}
		if err := proto.Unmarshal(m.Data(), r); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r.GetDeviceSeq())
	}
	return seqs
}

// TestReplicasProvisionIngestTogetherR3: on the three-node cluster the ingest stream keeps three
// copies, and two replicas starting together both provision it (a concurrent first R3 create
// can go unanswered). Not parallel: it sets the process-wide stream replica count.
func TestReplicasProvisionIngestTogetherR3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := dataproduct.SetStreamReplicas(3); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dataproduct.SetStreamReplicas(dataproduct.DefaultReplicas) }()
	c := testinfra.StartNATSCluster(t)
	conns := []jetstream.JetStream{c.JetStream(t), c.JetStream(t)}
	if !testinfra.Together(t, len(conns), func(i int) error {
		_, err := pipeline.ProvisionIngest(ctx, conns[i])
		return err
	}) {
		t.Fatal("two replicas provisioning the ingest stream together")
	}
	s, err := conns[0].Stream(ctx, pipeline.IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Replicas; got != 3 {
		t.Errorf("%s keeps %d copies on the cluster, want 3", pipeline.IngestStream, got)
	}
}
