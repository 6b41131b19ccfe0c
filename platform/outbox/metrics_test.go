package outbox_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestRelayExportsMetrics: while Run runs, the relay's counters and its table's backlog are
// observable instruments labelled with the table; after Run they are gone.
func TestRelayExportsMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createStream(t, e.js)
	reader := sdkmetric.NewManualReader()
	cfg := fastConfig()
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	collect := func() map[string]float64 {
		t.Helper()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatalf("collect: %v", err)
		}
		out := map[string]float64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					for _, p := range d.DataPoints {
						if v, _ := p.Attributes.Value("outbox.table"); v.AsString() != "" {
							out[m.Name] = float64(p.Value)
						}
					}
				case metricdata.Gauge[int64]:
					for _, p := range d.DataPoints {
						out[m.Name] = float64(p.Value)
					}
				case metricdata.Gauge[float64]:
					for _, p := range d.DataPoints {
						out[m.Name] = p.Value
					}
				}
			}
		}
		return out
	}

	// Five events wait before the relay starts; it publishes them.
	for i := range 5 {
		enqueue(t, e.pool, event(eventID("m", i), "dp.test.k", []byte("x")))
	}
	r := start(t, e, cfg)
	waitFor(t, "5 events published", func() (bool, error) { return collect()["outbox.events.published"] == 5, nil })
	got := collect()
	if got["outbox.backlog.pending"] != 0 || got["outbox.backlog.parked"] != 0 || got["outbox.publish.failures"] != 0 {
		t.Errorf("metrics after draining %v, want an empty backlog and no failures", got)
	}
	for _, name := range []string{"outbox.events.duplicates", "outbox.events.parked", "outbox.backlog.retrying", "outbox.backlog.oldest_age"} {
		if _, ok := got[name]; !ok {
			t.Errorf("metric %s not exported (got %v)", name, got)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := collect(); len(got) != 0 {
		t.Errorf("metrics after Run returned: %v, want none", got)
	}
}
