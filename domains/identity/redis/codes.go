package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// UsedCodes remembers which TOTP steps each account has used, so each code signs in once.
type UsedCodes struct {
	c   goredis.UniversalClient
	ttl time.Duration
}

// NewUsedCodes returns UsedCodes over c that remember a step for ttl, which must cover the
// time a code stays acceptable: (2×skew+1) steps.
func NewUsedCodes(c goredis.UniversalClient, ttl time.Duration) *UsedCodes {
	return &UsedCodes{c: c, ttl: ttl}
}

// FirstUse records that userID used the code of step and reports whether nobody had before
// (SET NX, atomic across replicas).
func (u *UsedCodes) FirstUse(ctx context.Context, userID string, step int64) (bool, error) {
	k := "identity:totp-used:" + userID + ":" + strconv.FormatInt(step, 10)
	ok, err := u.c.SetNX(ctx, k, 1, u.ttl).Result()
	if err != nil {
		return false, unavailable("redis.UsedCodes.FirstUse", err)
	}
	return ok, nil
}
