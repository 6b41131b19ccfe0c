package testinfra

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"meshwork.dev/platform/localserver"
)

// Redis is a redis-server that belongs to one test.
type Redis struct {
	// URL is redis://127.0.0.1:port/0.
	URL string
	// Addr is 127.0.0.1:port.
	Addr string
}

// StartRedis starts a redis-server for t (in memory, working directory in a temporary dir) and
// stops it at t's cleanup.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := localserver.StartRedis(ctx, localserver.RedisOptions{Dir: dir})
	if err != nil {
		t.Fatalf("testinfra.StartRedis: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("testinfra: %v", err)
		}
	})
	return &Redis{URL: r.URL(), Addr: r.Addr()}
}

// Client returns a client for database 0, closed at t's cleanup.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatalf("testinfra: parse %s: %v", r.URL, err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
