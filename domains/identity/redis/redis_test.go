package redis_test

import (
	"context"
	"testing"
	"time"

	"meshwork.dev/domains/identity/redis"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/testinfra"
)

func TestThrottle(t *testing.T) {
	t.Parallel()
	c := testinfra.StartRedis(t).Client(t)
	ctx := context.Background()
	limits := redis.Limits{
		AccountBurst: 3, AccountBurstWindow: 5 * time.Minute, AccountMax: 5, AccountWindow: time.Hour,
		SourceBurst: 4, SourceBurstWindow: 5 * time.Minute, SourceMax: 100, SourceWindow: time.Hour,
	}
	th := redis.NewThrottle(c, limits)
	t0 := time.Now()
	fail := func(account, source string, at time.Time) {
		t.Helper()
		if err := th.Failed(ctx, account, source, at); err != nil {
			t.Fatal(err)
		}
	}
	check := func(account, source string, at time.Time) errs.Kind {
		return errs.KindOf(th.Check(ctx, account, source, at))
	}

	for range 3 {
		if k := check("alice@example.com", "10.0.0.1", t0); k != 0 {
			t.Fatalf("refused before the burst limit: %v", k)
		}
		fail("alice@example.com", "10.0.0.1", t0)
	}
	if k := check("alice@example.com", "10.0.0.9", t0); k != errs.ResourceExhausted {
		t.Fatalf("after 3 failures: %v, want resource exhausted", k)
	}
	if k := check("bob@example.com", "10.0.0.9", t0); k != 0 {
		t.Errorf("another account is throttled: %v", k)
	}
	// The burst window slides past; the hourly limit still counts them.
	t1 := t0.Add(6 * time.Minute)
	if k := check("alice@example.com", "10.0.0.9", t1); k != 0 {
		t.Fatalf("after the burst window: %v", k)
	}
	fail("alice@example.com", "10.0.0.9", t1)
	fail("alice@example.com", "10.0.0.9", t1)
	if k := check("alice@example.com", "10.0.0.9", t1); k != errs.ResourceExhausted {
		t.Errorf("5 failures in the hour: %v, want resource exhausted", k)
	}
	if k := check("alice@example.com", "10.0.0.9", t0.Add(61*time.Minute+time.Second)); k != 0 {
		t.Errorf("after the hour: %v", k)
	}
	// One source failing on many accounts.
	for _, a := range []string{"a", "b", "c", "d"} {
		fail(a, "10.6.6.6", t0)
	}
	if k := check("fresh@example.com", "10.6.6.6", t0); k != errs.ResourceExhausted {
		t.Errorf("source after 4 failures: %v", k)
	}
	if k := check("fresh@example.com", "", t0); k != 0 {
		t.Errorf("unknown source: %v", k)
	}
	keys, err := c.Keys(ctx, "*alice*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("emails in Redis keys: %v %v", keys, err)
	}
}

func TestUsedCodes(t *testing.T) {
	t.Parallel()
	c := testinfra.StartRedis(t).Client(t)
	u := redis.NewUsedCodes(c, 2*time.Minute)
	ctx := context.Background()
	for i, tt := range []struct {
		user string
		step int64
		want bool
	}{{"u1", 100, true}, {"u1", 100, false}, {"u1", 101, true}, {"u2", 100, true}} {
		got, err := u.FirstUse(ctx, tt.user, tt.step)
		if err != nil || got != tt.want {
			t.Errorf("#%d FirstUse(%s, %d) = %v, %v; want %v", i, tt.user, tt.step, got, err, tt.want)
		}
	}
	ttl, err := c.TTL(ctx, "identity:totp-used:u1:100").Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("ttl %v, %v", ttl, err)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	r := testinfra.StartRedis(t)
	c := r.Client(t)
	_ = c.Close()
	th := redis.NewThrottle(c, redis.DefaultLimits)
	if err := th.Check(context.Background(), "a", "b", time.Now()); !errs.Is(err, errs.Unavailable) {
		t.Errorf("Check with Redis gone: %v, want unavailable", err)
	}
}
