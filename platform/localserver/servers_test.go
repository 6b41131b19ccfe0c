package localserver_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"meshwork.dev/platform/localserver"
)

// TestNATSRestartKeepsStreams checks that a stream written before Shutdown is there after a
// second start on the same store directory.
func TestNATSRestartKeepsStreams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(f func(js jetstream.JetStream)) {
		n, err := localserver.StartNATS(localserver.NATSOptions{Dir: dir})
		if err != nil {
			t.Fatalf("StartNATS: %v", err)
		}
		defer n.Shutdown()
		if n.MonitorURL() == "" || n.MQTTAddr() == "" {
			t.Fatalf("monitor %q, MQTT %q: want both enabled by default", n.MonitorURL(), n.MQTTAddr())
		}
		nc, err := nats.Connect(n.URL())
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		f(js)
		n.Shutdown() // idempotent: the deferred call is a no-op
	}
	run(func(js jetstream.JetStream) {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}}); err != nil {
			t.Fatalf("create stream: %v", err)
		}
		if _, err := js.Publish(ctx, "keep.a", []byte("1")); err != nil {
			t.Fatalf("publish: %v", err)
		}
	})
	run(func(js jetstream.JetStream) {
		s, err := js.Stream(ctx, "KEEP")
		if err != nil {
			t.Fatalf("stream after restart: %v", err)
		}
		if msgs := s.CachedInfo().State.Msgs; msgs != 1 {
			t.Fatalf("%d messages after restart, want 1", msgs)
		}
	})
}

func TestNATSDisabledListeners(t *testing.T) {
	t.Parallel()
	n, err := localserver.StartNATS(localserver.NATSOptions{Dir: t.TempDir(), MonitorPort: -1, MQTTPort: -1})
	if err != nil {
		t.Fatalf("StartNATS: %v", err)
	}
	defer n.Shutdown()
	if n.MonitorURL() != "" || n.MQTTAddr() != "" {
		t.Fatalf("monitor %q, MQTT %q: want both disabled", n.MonitorURL(), n.MQTTAddr())
	}
}

// TestNATSPortTaken checks that a listener that cannot bind fails the start with the log tail.
func TestNATSPortTaken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = localserver.StartNATS(localserver.NATSOptions{Dir: t.TempDir(), MQTTPort: port})
	if err == nil || !strings.Contains(err.Error(), "MQTT") {
		t.Fatalf("err = %v, want a start-up error naming the MQTT listener", err)
	}
}

// TestRedisPersistSurvivesRestart writes a key, restarts with Persist on the same dir, reads it.
func TestRedisPersistSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(f func(c *redis.Client)) {
		r, err := localserver.StartRedis(ctx, localserver.RedisOptions{Dir: dir, Persist: true})
		if err != nil {
			t.Fatalf("StartRedis: %v", err)
		}
		c := redis.NewClient(&redis.Options{Addr: r.Addr()})
		f(c)
		_ = c.Close()
		for range 2 {
			if err := r.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		}
	}
	run(func(c *redis.Client) {
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
	})
	run(func(c *redis.Client) {
		if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
			t.Fatalf("GET after restart = %q, %v; want v", got, err)
		}
	})
}

func TestRedisMissingBinary(t *testing.T) {
	t.Parallel()
	_, err := localserver.StartRedis(context.Background(), localserver.RedisOptions{Dir: t.TempDir(), BinPath: "/nonexistent/redis-server"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install redis-server") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line naming the package", err)
	}
}

// TestRedisPassword: with a password, a client without it is refused (NOAUTH) and URL works.
func TestRedisPassword(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	r, err := localserver.StartRedis(ctx, localserver.RedisOptions{Dir: dir, Password: `p"w\1`})
	if err != nil {
		t.Fatalf("StartRedis: %v", err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	anon := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer anon.Close()
	if err := anon.Set(ctx, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("SET without the password: %v, want NOAUTH", err)
	}
	opts, err := redis.ParseURL(r.URL())
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", r.URL(), err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET with URL's password: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, "auth.conf"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("auth.conf: %v, %v; want mode 0600", info, err)
	}
}
