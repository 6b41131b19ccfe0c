package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/quality/sim"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

func TestCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out strings.Builder
	if err := run(context.Background(), []string{"--csv", dir, "--machines", "1", "--days", "2"}, noEnv, &out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "m01-temp-1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "timestamp,value,label" || len(lines) < 2000 {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	if _, err := os.Stat(filepath.Join(dir, "truth.json")); err != nil {
		t.Fatal(err)
	}
}

func TestPublish(t *testing.T) {
	t.Parallel()
	n := testinfra.StartNATS(t)
	nc := n.Connect(t)
	sub, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, target := range [][]string{{"--nats", n.URL}, {"--mqtt", n.MQTTAddr}} {
		var out strings.Builder
		args := append(target, "--machines", "1", "--ticks", "2", "--rate", "1000")
		env := func(k string) string {
			return map[string]string{"MQTT_USERNAME": n.User, "MQTT_PASSWORD": n.Password}[k]
		}
		if err := run(context.Background(), args, env, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "published 14 readings") {
			t.Fatalf("%v: %s", target, out.String())
		}
	}
	// Wait until both have arrived (or 30 s pass), then for strays: anything more is a failure too.
	got := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for got["ingest"] < 14 || got["factory"] < 14 {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		got[strings.SplitN(m.Subject, ".", 2)[0]]++
	}
	for {
		m, err := sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		got[strings.SplitN(m.Subject, ".", 2)[0]]++
	}
	if got["ingest"] != 14 || got["factory"] != 14 {
		t.Fatalf("received %v, want 14 on ingest.quality.> and 14 on factory.>", got)
	}
}

func noEnv(string) string { return "" }

// TestCentre runs the CSV mode with centres from the environment and flags: truth.json places
// every machine within the radius of the centre given; a bad centre stops the run.
func TestCentre(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		centre  sim.LatLng
		wantErr string
	}{
		{"default", nil, nil, sim.DefaultCentre, ""},
		{"environment", map[string]string{"CITY_LAT": "48.85", "CITY_LNG": "2.35"}, nil, sim.LatLng{Lat: 48.85, Lng: 2.35}, ""},
		{"flags win", map[string]string{"CITY_LAT": "48.85"}, []string{"--lat", "51.5", "--lng", "-0.12", "--radius", "800"}, sim.LatLng{Lat: 51.5, Lng: -0.12}, ""},
		{"malformed environment", map[string]string{"CITY_LAT": "north"}, nil, sim.LatLng{}, "CITY_LAT"},
		{"out of range", nil, []string{"--lat", "91"}, sim.LatLng{}, "lat in [-90, 90]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"--csv", dir, "--machines", "3", "--days", "0.01"}, tt.args...)
			var out strings.Builder
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var truth struct {
				Locations map[string]sim.LatLng `json:"locations"`
			}
			if err := json.Unmarshal(data, &truth); err != nil {
				t.Fatal(err)
			}
			radius := sim.DefaultRadius
			if slices.Contains(tt.args, "--radius") {
				radius = 800
			}
			if len(truth.Locations) != 3 {
				t.Fatalf("locations %v, want 3", truth.Locations)
			}
			for id, at := range truth.Locations {
				if d := sim.DistanceM(tt.centre, at); d > radius {
					t.Errorf("%s at %v: %.0f m from %v", id, at, d, tt.centre)
				}
			}
		})
	}
}

func TestRegisterNeedsCredentials(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	err := run(context.Background(), []string{"--register", "127.0.0.1:1"}, noEnv, &out)
	if err == nil || !strings.Contains(err.Error(), "SERVICE_CLIENT_ID") {
		t.Fatalf("err = %v", err)
	}
}

// TestPublishStartsDaysBeforeNow: live readings carry recent sample times (the simulated days
// end about now); --start overrides it and a malformed one stops the run.
func TestPublishStartsDaysBeforeNow(t *testing.T) {
	t.Parallel()
	n := testinfra.StartNATS(t)
	nc := n.Connect(t)
	first := func(args ...string) time.Time {
		t.Helper()
		sub, err := nc.SubscribeSync("ingest.quality.>")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := run(context.Background(), append([]string{"--nats", n.URL, "--machines", "1", "--ticks", "1", "--rate", "1000"}, args...), noEnv, &out); err != nil {
			t.Fatal(err)
		}
		m, err := sub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("reading %s: %v", m.Data, err)
		}
		return r.Time
	}
	if got, want := first("--days", "2"), time.Now().Add(-48*time.Hour); got.Sub(want).Abs() > time.Hour {
		t.Errorf("first live sample at %v, want about %v (two days before now)", got, want)
	}
	if got := first("--start", "2026-03-01T08:00:00Z"); !got.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("first sample with --start at %v, want 2026-03-01T08:00:00Z", got)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"--nats", n.URL, "--start", "yesterday"}, noEnv, &out); err == nil || !strings.Contains(err.Error(), "--start") {
		t.Errorf("--start yesterday: %v, want an error naming --start", err)
	}
}
