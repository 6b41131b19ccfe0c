package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/domains/logistics/redis"
	"meshwork.dev/domains/logistics/tracking"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

func fix(id string, lat, lng float64, at time.Time) tracking.Fix {
	return tracking.Fix{
		Ping: position.Ping{Vehicle: id, At: at, Lat: lat, Lng: lng},
		Cell: h3.LatLngToCell(h3.NewLatLng(lat, lng), 9), Resolution: 9,
	}
}

func TestNearestAcrossRings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := redis.NewLive(testinfra.StartRedis(t).Client(t), "t1:")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, f := range []tracking.Fix{
		fix("near", 52.371, 4.901, now),
		fix("mid", 52.40, 4.95, now),
		fix("far", 52.50, 5.10, now),
		fix("stale", 52.3701, 4.9001, now.Add(-time.Hour)),
		fix("moved", 52.3702, 4.9002, now), // then moves away
		fix("moved", 52.60, 5.30, now.Add(time.Second)),
		fix("truck", 52.372, 4.902, now),
	} {
		if err := live.Set(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	vans := func(ids []string) (map[string]bool, error) {
		ok := map[string]bool{}
		for _, id := range ids {
			ok[id] = id != "truck"
		}
		return ok, nil
	}
	got, err := live.Nearest(ctx, h3.NewLatLng(52.37, 4.90), 2, now, 15*time.Minute, vans)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Vehicle != "near" || got[1].Vehicle != "mid" || got[0].DistanceM > got[1].DistanceM {
		t.Fatalf("nearest 2: %+v", got)
	}
}
