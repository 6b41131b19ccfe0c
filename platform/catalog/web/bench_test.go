package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/web"
)

// benchProducts is how many products the benchmark registers (issue 15: p95 < 200 ms with
// 1 000 products).
const benchProducts = 1000

// BenchmarkPages renders each page over HTTP from the real catalog (Postgres, JetStream) with
// benchProducts products registered in 20 domains, each with its stream and some events, and
// reports the latency percentiles of the requests (p50-ms, p95-ms).
func BenchmarkPages(b *testing.B) {
	e := newEnv(b, web.Config{})
	ctx := context.Background()
	for i := range benchProducts {
		d := catalogtest.Descriptor(fmt.Sprintf("dom%02d.product-%04d.v1", i%20, i), catalogtest.BaseFields...)
		d.Tags = []string{fmt.Sprintf("tag-%d", i%7), "bench"}
		if i > 20 {
			d.Upstreams = []string{fmt.Sprintf("dom%02d.product-%04d.v1", (i-20)%20, i-20)}
		}
		if _, err := e.cat.Register(ctx, d); err != nil {
			b.Fatal(err)
		}
		if _, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: d.GetStream(), Subjects: d.GetSubjects(), Storage: jetstream.MemoryStorage}); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			for k := range 5 {
				e.publish(b, d, fmt.Sprintf("m-%d", k), payload(b, d, map[string]any{"machine_id": "m", "value": float64(k)}))
			}
		}
	}
	pages := []struct{ name, path string }{
		{"list", "/"},
		{"search", "/?q=product"},
		{"facets", "/?domain=dom03&tag=tag-2&freshness=fresh"},
		{"last-page", "/?page=20"},
		{"product", "/products/dom00.product-0500.v1"},
		{"lineage", "/lineage/dom00.product-0500.v1?depth=3"},
		{"health", "/health"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				resp, err := http.Get(e.server.URL + p.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", p.path, resp.Status)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
		})
	}
}
