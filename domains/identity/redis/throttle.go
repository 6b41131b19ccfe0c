// Package redis holds identity's short-lived security state in Redis: failed sign-in
// counters for throttling, and the TOTP steps already used, so each code works once.
package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"meshwork.dev/platform/errs"
)

// Limits bound failed sign-ins in sliding windows, per account and per source address. A
// sign-in is refused once a window holds its limit of failures.
type Limits struct {
	// AccountBurst failures per AccountBurstWindow, per account.
	AccountBurst       int
	AccountBurstWindow time.Duration
	// AccountMax failures per AccountWindow, per account.
	AccountMax    int
	AccountWindow time.Duration
	// SourceBurst failures per SourceBurstWindow, per source address.
	SourceBurst       int
	SourceBurstWindow time.Duration
	// SourceMax failures per SourceWindow, per source address.
	SourceMax    int
	SourceWindow time.Duration
}

// DefaultLimits: 10 failures in 5 minutes or 100 in an hour lock an account; a source
// address may fail 50 times in 5 minutes or 500 in an hour (many people can share one
// address behind NAT).
var DefaultLimits = Limits{
	AccountBurst: 10, AccountBurstWindow: 5 * time.Minute, AccountMax: 100, AccountWindow: time.Hour,
	SourceBurst: 50, SourceBurstWindow: 5 * time.Minute, SourceMax: 500, SourceWindow: time.Hour,
}

// Throttle counts failed sign-ins in Redis sorted sets (one member per failure, scored by
// its time), so that every replica of identity sees the same counts.
type Throttle struct {
	c      goredis.UniversalClient
	limits Limits
}

// NewThrottle returns a Throttle over c.
func NewThrottle(c goredis.UniversalClient, limits Limits) *Throttle {
	return &Throttle{c: c, limits: limits}
}

// key names a counter without putting the account (an email) into Redis in clear.
func key(kind, id string) string {
	sum := sha256.Sum256([]byte(id))
	return "identity:failures:" + kind + ":" + hex.EncodeToString(sum[:16])
}

// window is one limit on one counter.
type window struct {
	key   string
	limit int
	span  time.Duration
}

func (t *Throttle) windows(account, source string) []window {
	l := t.limits
	w := []window{
		{key("account", account), l.AccountBurst, l.AccountBurstWindow},
		{key("account", account), l.AccountMax, l.AccountWindow},
	}
	if source != "" {
		w = append(w, window{key("source", source), l.SourceBurst, l.SourceBurstWindow},
			window{key("source", source), l.SourceMax, l.SourceWindow})
	}
	return w
}

// Check returns a ResourceExhausted error when account or source has reached a limit at now.
// It says which kind of limit, never whether the account exists.
func (t *Throttle) Check(ctx context.Context, account, source string, now time.Time) error {
	const op = "redis.Throttle.Check"
	ws := t.windows(account, source)
	cmds := make([]*goredis.IntCmd, len(ws))
	_, err := t.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, w := range ws {
			cmds[i] = p.ZCount(ctx, w.key, score(now.Add(-w.span)), "+inf")
		}
		return nil
	})
	if err != nil {
		return unavailable(op, err)
	}
	for i, w := range ws {
		if cmds[i].Val() >= int64(w.limit) {
			return errs.Errorf(op, errs.ResourceExhausted, "too many failed sign-ins; try again in %s", w.span)
		}
	}
	return nil
}

// Failed records one failed sign-in of account from source at now, and forgets failures
// older than the longest window.
func (t *Throttle) Failed(ctx context.Context, account, source string, now time.Time) error {
	const op = "redis.Throttle.Failed"
	longest := map[string]time.Duration{}
	for _, w := range t.windows(account, source) {
		longest[w.key] = max(longest[w.key], w.span)
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	member := strconv.FormatInt(now.UnixNano(), 10) + "-" + hex.EncodeToString(nonce[:])
	_, err := t.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for k, span := range longest {
			p.ZRemRangeByScore(ctx, k, "-inf", "("+score(now.Add(-span)))
			p.ZAdd(ctx, k, goredis.Z{Score: float64(now.UnixMilli()), Member: member})
			p.PExpire(ctx, k, span)
		}
		return nil
	})
	return unavailable(op, err)
}

// score is a sorted-set score: Unix milliseconds.
func score(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// unavailable classifies a Redis failure.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	return &errs.Error{Op: op, Kind: errs.Unavailable, Msg: "throttling store unavailable", Err: err}
}
