package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		if err := run(context.Background(), args, noEnv, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "published 14 readings") {
			t.Fatalf("%v: %s", target, out.String())
		}
	}
	got := map[string]int{}
	for {
		m, err := sub.NextMsg(2 * time.Second)
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

func TestRegisterNeedsCredentials(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	err := run(context.Background(), []string{"--register", "127.0.0.1:1"}, noEnv, &out)
	if err == nil || !strings.Contains(err.Error(), "SERVICE_CLIENT_ID") {
		t.Fatalf("err = %v", err)
	}
}
