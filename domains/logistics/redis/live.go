// Package redis keeps the fleet's live positions in Redis: a hash per vehicle with its latest
// fix, and a set of vehicle ids per coarse H3 cell, which NearestVehicles searches ring by ring
// with grid disks.
package redis

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/tracking"
	"meshwork.dev/platform/errs"
)

// IndexResolution is the H3 resolution of the live index cells (edge ≈ 1.2 km): coarse enough
// that a search for the nearest vans touches few keys.
const IndexResolution = 7

// MaxRings bounds a nearest search to about 25 km around the point.
const MaxRings = 20

// Live is the live position index.
type Live struct {
	rdb    *redis.Client
	prefix string
}

var _ tracking.Live = (*Live)(nil)

// NewLive returns the index on rdb with keys under prefix (e.g. "logistics:").
func NewLive(rdb *redis.Client, prefix string) *Live { return &Live{rdb: rdb, prefix: prefix} }

func (l *Live) vehicleKey(id string) string { return l.prefix + "vehicle:" + id }
func (l *Live) cellKey(c h3.Cell) string    { return l.prefix + "cell:" + c.String() }

// setScript moves a vehicle between index cells and records its fix in one round trip:
// KEYS[1] vehicle hash, KEYS[2] new cell set; ARGV: prefix, vehicle, idx, lat, lng, at, cell.
var setScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], 'idx')
redis.call('HSET', KEYS[1], 'lat', ARGV[4], 'lng', ARGV[5], 'at', ARGV[6], 'cell', ARGV[7], 'idx', ARGV[3])
if old and old ~= ARGV[3] then
  redis.call('SREM', ARGV[1] .. 'cell:' .. old, ARGV[2])
end
redis.call('SADD', KEYS[2], ARGV[2])
return 1`)

// Set records f as its vehicle's latest position and moves the vehicle between index cells,
// atomically (one Lua script).
func (l *Live) Set(ctx context.Context, f tracking.Fix) error {
	idx := h3.LatLngToCell(h3.NewLatLng(f.Lat, f.Lng), IndexResolution)
	err := setScript.Run(ctx, l.rdb, []string{l.vehicleKey(f.Vehicle), l.cellKey(idx)},
		l.prefix, f.Vehicle, idx.String(), strconv.FormatFloat(f.Lat, 'f', -1, 64), strconv.FormatFloat(f.Lng, 'f', -1, 64),
		strconv.FormatInt(f.At.UnixNano(), 10), f.Cell.String()).Err()
	if err != nil {
		return errs.Errorf("redis.Live.Set", errs.Unavailable, "write %s: %w", f.Vehicle, err)
	}
	return nil
}

// Near is a vehicle near a point.
type Near struct {
	Vehicle   string
	Lat, Lng  float64
	At        time.Time
	Cell      string
	DistanceM float64
}

// Nearest returns up to k vehicles nearest point whose position is not older than maxAge at now
// and that accept allows (accept may be nil), nearest first. It scans grid rings outwards and
// stops two rings after it holds k candidates, since a vehicle three rings further out cannot be
// nearer than one found.
func (l *Live) Nearest(ctx context.Context, point h3.LatLng, k int, now time.Time, maxAge time.Duration, accept func(ids []string) (map[string]bool, error)) ([]Near, error) {
	const op = "redis.Live.Nearest"
	rings := h3.LatLngToCell(point, IndexResolution).GridDiskDistances(MaxRings)
	var found []Near
	enough := -1
	for r, ring := range rings {
		if enough >= 0 && r > enough+2 {
			break
		}
		pipe := l.rdb.Pipeline()
		cmds := make([]*redis.StringSliceCmd, len(ring))
		for i, c := range ring {
			cmds[i] = pipe.SMembers(ctx, l.cellKey(c))
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, errs.Errorf(op, errs.Unavailable, "scan ring %d: %w", r, err)
		}
		var ids []string
		for _, c := range cmds {
			ids = append(ids, c.Val()...)
		}
		near, err := l.positions(ctx, ids, point, now, maxAge)
		if err != nil {
			return nil, errs.Wrap(op, err)
		}
		if accept != nil && len(near) > 0 {
			names := make([]string, len(near))
			for i, n := range near {
				names[i] = n.Vehicle
			}
			ok, err := accept(names)
			if err != nil {
				return nil, errs.Wrap(op, err)
			}
			near = slices.DeleteFunc(near, func(n Near) bool { return !ok[n.Vehicle] })
		}
		found = append(found, near...)
		if enough < 0 && len(found) >= k {
			enough = r
		}
	}
	slices.SortFunc(found, func(a, b Near) int {
		if a.DistanceM < b.DistanceM {
			return -1
		}
		if a.DistanceM > b.DistanceM {
			return 1
		}
		return 0
	})
	if len(found) > k {
		found = found[:k]
	}
	return found, nil
}

func (l *Live) positions(ctx context.Context, ids []string, point h3.LatLng, now time.Time, maxAge time.Duration) ([]Near, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := l.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, l.vehicleKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, errs.Errorf("redis.Live.positions", errs.Unavailable, "read positions: %w", err)
	}
	out := make([]Near, 0, len(ids))
	for i, c := range cmds {
		m := c.Val()
		lat, err1 := strconv.ParseFloat(m["lat"], 64)
		lng, err2 := strconv.ParseFloat(m["lng"], 64)
		ns, err3 := strconv.ParseInt(m["at"], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		at := time.Unix(0, ns).UTC()
		if now.Sub(at) > maxAge {
			continue
		}
		out = append(out, Near{
			Vehicle: ids[i], Lat: lat, Lng: lng, At: at, Cell: m["cell"],
			DistanceM: route.GreatCircleM(point, h3.NewLatLng(lat, lng)),
		})
	}
	return out, nil
}
