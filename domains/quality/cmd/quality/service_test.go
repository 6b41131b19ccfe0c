package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/mqtt"
	"meshwork.dev/domains/quality/sim"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

const waitLimit = 60 * time.Second

type qualityUnderTest struct {
	ctx      context.Context
	conn     *grpc.ClientConn
	client   qualityv1.QualityServiceClient
	iss      *authtest.Issuer
	js       jetstream.JetStream
	mqttAddr string
	nats     *testinfra.NATS
}

func start(t *testing.T) *qualityUnderTest {
	t.Helper()
	pg := testinfra.StartPostgres(t)
	n := testinfra.StartNATS(t)
	iss := authtest.NewIssuer(t)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "error",
		"DATABASE_URL": pg.URL, "NATS_URL": n.URL, "CATALOG_ADDR": "127.0.0.1:1", "JWKS_URL": iss.JWKSURL(),
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 5*waitLimit)
	t.Cleanup(tcancel)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(service.NotifyServing(ctx, func(g, _ string) { addrs <- g }), func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	})
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("quality did not start")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &qualityUnderTest{ctx: tctx, conn: conn, client: qualityv1.NewQualityServiceClient(conn), iss: iss,
		js: n.JetStream(t), mqttAddr: n.MQTTAddr, nats: n}
}

// as returns a context carrying a token of the given role ("" for none).
func (q *qualityUnderTest) as(t *testing.T, role string) context.Context {
	t.Helper()
	if role == "" {
		return q.ctx
	}
	tok := q.iss.Token(t, role+"-1", []string{role}, nil)
	return metadata.AppendToOutgoingContext(q.ctx, "authorization", "Bearer "+tok)
}

func (q *qualityUnderTest) register(t *testing.T, machine string, sensors ...string) {
	t.Helper()
	ctx := q.as(t, "service")
	if _, err := q.client.CreateMachine(ctx, &qualityv1.CreateMachineRequest{Machine: &qualityv1.Machine{
		MachineId: machine, Site: "plant-1", Model: "press", Criticality: qualityv1.Criticality_CRITICALITY_HIGH}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range sensors {
		if _, err := q.client.CreateSensor(ctx, &qualityv1.CreateSensorRequest{Sensor: &qualityv1.Sensor{
			SensorId: s, MachineId: machine, Kind: qualityv1.SensorKind_SENSOR_KIND_TEMPERATURE, Unit: "degC",
			MinValue: -20, MaxValue: 150, ExpectedIntervalMs: 60000}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEndToEnd registers a machine over gRPC, sends readings over gRPC streaming and a real
// MQTT client, and reads every accepted one back from quality.clean-readings.v1.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	q := start(t)
	q.register(t, "press-1", "press-1-temp")
	st, err := q.client.IngestReadings(q.as(t, "service"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for i := range 10 {
		if err := st.Send(&qualityv1.IngestReadingsRequest{MachineId: "press-1", SensorId: "press-1-temp",
			SampledAt: timestamppb.New(t0.Add(time.Duration(i) * time.Minute)), Value: 40}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Send(&qualityv1.IngestReadingsRequest{MachineId: "press-1", SensorId: "ghost", SampledAt: timestamppb.New(t0), Value: 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAccepted() != 10 || len(resp.GetRefusals()) != 1 || resp.GetRefusals()[0].GetIndex() != 10 {
		t.Fatalf("ingest response %v", resp)
	}
	c, err := mqtt.Dial(q.ctx, q.mqttAddr, "gw-1", q.nats.User, q.nats.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 10; i < 15; i++ {
		body := fmt.Sprintf(`{"value": 40.5, "time": %q}`, t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
		if err := c.Publish("factory/press-1/press-1-temp", []byte(body), 1); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := q.js.OrderedConsumer(q.ctx, stream.CleanReadings.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	channels := 0
	for i := range 15 {
		m, err := cons.Next(jetstream.FetchMaxWait(waitLimit))
		if err != nil {
			t.Fatalf("clean reading %d: %v", i, err)
		}
		var cr qualityv1.CleanReading
		if err := proto.Unmarshal(m.Data(), &cr); err != nil {
			t.Fatal(err)
		}
		if cr.GetRawValue() == 40.5 {
			channels++
		}
	}
	if channels != 5 {
		t.Fatalf("%d of the clean readings came over MQTT, want 5", channels)
	}
	h, err := q.client.GetMachineHealth(q.as(t, "analyst"), &qualityv1.GetMachineHealthRequest{MachineId: "press-1"})
	if err != nil {
		t.Fatal(err)
	}
	if h.GetHealth().GetStatus() != qualityv1.HealthStatus_HEALTH_STATUS_OK {
		t.Fatalf("health %v", h.GetHealth())
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	q := start(t)
	ctx := q.as(t, "admin")
	_, err := q.client.CreateMachine(ctx, &qualityv1.CreateMachineRequest{Machine: &qualityv1.Machine{MachineId: "Bad Id"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad machine: %v", err)
	}
	_, err = q.client.CreateSensor(ctx, &qualityv1.CreateSensorRequest{Sensor: &qualityv1.Sensor{SensorId: "s1", MachineId: "nope",
		Kind: qualityv1.SensorKind_SENSOR_KIND_VIBRATION, MinValue: 0, MaxValue: 10, ExpectedIntervalMs: 1000}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("sensor of a missing machine: %v", err)
	}
	q.register(t, "m1")
	_, err = q.client.CreateMachine(ctx, &qualityv1.CreateMachineRequest{Machine: &qualityv1.Machine{MachineId: "m1", Site: "x",
		Criticality: qualityv1.Criticality_CRITICALITY_LOW}})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("duplicate machine: %v", err)
	}
}

// TestSimulatorRegisters runs the simulator's registration against the service with a service
// token, twice (the second run finds everything there), and lists what it created.
func TestSimulatorRegisters(t *testing.T) {
	t.Parallel()
	q := start(t)
	cfg := sim.DefaultConfig()
	cfg.Machines = 2
	f := sim.New(cfg, 48*time.Hour)
	ctx := q.as(t, "service")
	n, err := sim.Register(ctx, q.client, f)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2*8 {
		t.Fatalf("created %d, want 2 machines and 14 sensors", n)
	}
	if n, err := sim.Register(ctx, q.client, f); err != nil || n != 0 {
		t.Fatalf("second registration: %d, %v", n, err)
	}
	for id, want := range f.Locations() {
		m, err := q.client.GetMachine(q.as(t, "service"), &qualityv1.GetMachineRequest{MachineId: id})
		if err != nil {
			t.Fatal(err)
		}
		got := sim.LatLng{Lat: m.GetMachine().GetLocation().GetLat(), Lng: m.GetMachine().GetLocation().GetLng()}
		if m.GetMachine().GetLocation() == nil || got != want || sim.DistanceM(sim.DefaultCentre, got) > 3000 {
			t.Errorf("%s stored at %v, simulated at %v (want within 3 km of %v)", id, m.GetMachine().GetLocation(), want, sim.DefaultCentre)
		}
	}
	list, err := q.client.ListSensors(q.as(t, "analyst"), &qualityv1.ListSensorsRequest{MachineId: "m02", PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetSensors()) != 5 || list.GetNextPageToken() == "" {
		t.Fatalf("page of %d sensors, next %q", len(list.GetSensors()), list.GetNextPageToken())
	}
	rest, err := q.client.ListSensors(q.as(t, "analyst"), &qualityv1.ListSensorsRequest{MachineId: "m02", PageSize: 5, PageToken: list.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.GetSensors()) != 2 || rest.GetNextPageToken() != "" {
		t.Fatalf("second page %v", rest)
	}
}
