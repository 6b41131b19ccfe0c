package testinfra_test

import (
	"context"
	"testing"

	"meshwork.dev/platform/testinfra"
)

func TestRedisSetGet(t *testing.T) {
	t.Parallel()
	r := testinfra.StartRedis(t)
	c := r.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := c.Get(ctx, "greeting").Result()
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	if got != "hello" {
		t.Fatalf("GET greeting = %q, want hello", got)
	}
}

func TestRedisServersAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := testinfra.StartRedis(t), testinfra.StartRedis(t)
	ctx := context.Background()
	if err := a.Client(t).Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatalf("SET on a: %v", err)
	}
	n, err := b.Client(t).Exists(ctx, "k").Result()
	if err != nil {
		t.Fatalf("EXISTS on b: %v", err)
	}
	if a.Addr == b.Addr || n != 0 {
		t.Fatalf("servers %s and %s share data (EXISTS k on b = %d)", a.Addr, b.Addr, n)
	}
}
