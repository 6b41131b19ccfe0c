package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// TestSendsValidPings runs fleet-sim against NATS and checks its pings would be accepted.
func TestSendsValidPings(t *testing.T) {
	n := testinfra.StartNATS(t)
	nc := n.Connect(t)
	sub, err := nc.SubscribeSync("ingest.logistics.*")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	truth := filepath.Join(t.TempDir(), "truth.csv")
	env := map[string]string{"NATS_URL": n.URL, "VANS": "3", "PING_INTERVAL": "20ms", "CITY_RADIUS_CELLS": "5", "TRUTH_FILE": truth}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }) }()
	seen := map[string]bool{}
	for len(seen) < 3 {
		m, err := sub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var req logisticsv1.IngestPositionsRequest
		if err := proto.Unmarshal(m.Data, &req); err != nil {
			t.Fatal(err)
		}
		p := position.Ping{Vehicle: req.GetVehicleId(), At: req.GetRecordedAt().AsTime(), Lat: req.GetPosition().GetLat(),
			Lng: req.GetPosition().GetLng(), SpeedMPS: req.GetSpeedMps(), HeadingDeg: req.GetHeadingDeg()}
		if err := (position.Limits{}).Validate(p, time.Now()); err != nil {
			t.Fatalf("invalid ping %v: %v", &req, err)
		}
		if !strings.HasSuffix(m.Subject, "."+req.GetVehicleId()) {
			t.Fatalf("ping of %s on %s", req.GetVehicleId(), m.Subject)
		}
		seen[req.GetVehicleId()] = true
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(truth)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines < 1+91*6*24/2 {
		t.Fatalf("truth file has %d lines", lines)
	}
}
