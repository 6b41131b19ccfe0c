package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/stream"
	"meshwork.dev/platform/dataproduct"
)

// next reads the next message of product p from its stream.
func next(t *testing.T, u *underTest, p dataproduct.Product, msg proto.Message) {
	t.Helper()
	cons, err := u.js.OrderedConsumer(u.ctx, p.StreamName(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(waitLimit))
	if err != nil {
		t.Fatalf("%s: %v", p.ID(), err)
	}
	if err := proto.Unmarshal(m.Data(), msg); err != nil {
		t.Fatal(err)
	}
}

// TestPositionsLearnAndPublish streams pings of one van over gRPC and another over NATS, then
// checks the published position, the live index, the learned travel times on their product,
// a malformed ping's dead letter, and that a planned route is published.
func TestPositionsLearnAndPublish(t *testing.T) {
	u := start(t, nil)
	svcCtx := u.as(t, "service")
	s, err := u.client.IngestPositions(svcCtx)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Add(-10 * time.Minute)
	// Drive north along a meridian, a ping every 5 s at ~10 m/s, plus a duplicate and a bad one.
	var sent int
	for i := 0; i < 60; i++ {
		req := &logisticsv1.IngestPositionsRequest{
			VehicleId: "van-grpc", RecordedAt: timestamppb.New(t0.Add(time.Duration(i) * 5 * time.Second)),
			Position: &logisticsv1.LatLng{Lat: 52.36 + float64(i)*0.00045, Lng: 4.90}, SpeedMps: 10, HeadingDeg: 0,
		}
		if err := s.Send(req); err != nil {
			t.Fatal(err)
		}
		sent++
		if i == 10 {
			if err := s.Send(req); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Send(&logisticsv1.IngestPositionsRequest{VehicleId: "van-grpc", RecordedAt: timestamppb.Now(), Position: &logisticsv1.LatLng{Lat: 99}}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAccepted() != int64(sent) || resp.GetDuplicates() != 1 || resp.GetRejected() != 1 {
		t.Fatalf("ingest counts %v", resp)
	}
	var pos logisticsv1.VehiclePosition
	next(t, u, stream.Positions, &pos)
	if pos.GetVehicleId() != "van-grpc" || pos.GetH3Cell() == "" || pos.GetH3Resolution() != 9 {
		t.Fatalf("position event %v", &pos)
	}

	// NATS ingest: one good ping, one malformed.
	dlq, err := u.nc.SubscribeSync(stream.IngestDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.nc.Flush(); err != nil { // the server knows the subscription before anything is sent
		t.Fatal(err)
	}
	good, _ := proto.Marshal(&logisticsv1.IngestPositionsRequest{
		RecordedAt: timestamppb.Now(), Position: &logisticsv1.LatLng{Lat: 52.371, Lng: 4.901}, SpeedMps: 3, HeadingDeg: 10,
	})
	if err := u.nc.Publish(stream.IngestSubjectPrefix+"van-nats", good); err != nil {
		t.Fatal(err)
	}
	if err := u.nc.Publish(stream.IngestSubjectPrefix+"van-nats", []byte("not a protobuf \xff\xff")); err != nil {
		t.Fatal(err)
	}
	dead, err := dlq.NextMsg(waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	if dead.Header.Get(dataproduct.HeaderDLQReason) == "" {
		t.Errorf("dead letter without reason: %v", dead.Header)
	}

	// The live index finds the NATS van first (it is nearest), after it was ingested.
	var found bool
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline) && !found; time.Sleep(50 * time.Millisecond) {
		near, err := u.client.NearestVehicles(u.as(t, "dispatcher"), &logisticsv1.NearestVehiclesRequest{
			Point: &logisticsv1.LatLng{Lat: 52.371, Lng: 4.901}, K: 2, MaxAge: nil,
		})
		if err != nil {
			t.Fatal(err)
		}
		found = len(near.GetVehicles()) == 2 && near.GetVehicles()[0].GetVehicleId() == "van-nats"
	}
	if !found {
		t.Fatal("NearestVehicles did not find van-nats then van-grpc")
	}

	// Learned travel times are published through the outbox.
	var tt logisticsv1.CellTravelTimes
	next(t, u, stream.TravelTimes, &tt)
	if tt.GetH3Cell() == "" || len(tt.GetEdges()) == 0 || tt.GetEdges()[0].GetSeconds() <= 0 {
		t.Fatalf("travel times event %v", &tt)
	}

	// A planned route is published with its id.
	r, err := u.client.PlanRoute(u.as(t, "engineer"), &logisticsv1.PlanRouteRequest{
		Origin: amsterdam, Destination: &logisticsv1.LatLng{Lat: 52.39, Lng: 4.93},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetH3Cells()) < 2 || len(r.GetPolyline()) != len(r.GetH3Cells()) || r.GetEta().AsDuration() <= 0 || r.GetDistanceM() <= 0 {
		t.Fatalf("route %v", r)
	}
	var pr logisticsv1.PlannedRoute
	next(t, u, stream.Routes, &pr)
	if pr.GetRouteId() != r.GetRouteId() || len(pr.GetH3Cells()) != len(r.GetH3Cells()) {
		t.Fatalf("route event %v", &pr)
	}
}
