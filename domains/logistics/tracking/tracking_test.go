package tracking_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/tracking"
	"meshwork.dev/platform/errs"
)

type sink struct {
	mu        sync.Mutex
	live      []tracking.Fix
	published []tracking.Fix
}

func (s *sink) Set(_ context.Context, f tracking.Fix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = append(s.live, f)
	return nil
}

func (s *sink) Position(_ context.Context, f tracking.Fix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = append(s.published, f)
	return nil
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := &sink{}
	p := &tracking.Pipeline{
		Resolution: 9, Filter: position.NewFilter(position.Limits{}, 16),
		Tracker: route.NewTracker(route.NewModel(route.ModelConfig{})), Live: s, Publish: s,
		Now: func() time.Time { return now },
	}
	ping := func(sec int, lat float64) position.Ping {
		return position.Ping{Vehicle: "v", At: now.Add(time.Duration(sec-600) * time.Second), Lat: lat, Lng: 4.9, SpeedMPS: 10}
	}
	steps := []struct {
		p       position.Ping
		out     tracking.Outcome
		suspect bool
		invalid bool
	}{
		{ping(0, 52.30), tracking.Accepted, false, false},
		{ping(10, 52.3009), tracking.Accepted, false, false},
		{ping(10, 52.3009), tracking.Duplicate, false, false},
		{ping(5, 52.3004), tracking.Accepted, false, false}, // late: published, not live
		{ping(20, 53.0), tracking.Accepted, true, false},    // 77 km in 10 s
		{ping(30, 95), tracking.Rejected, false, true},
	}
	for i, st := range steps {
		out, suspect, err := p.Ingest(context.Background(), st.p)
		if st.invalid != errs.Is(err, errs.Invalid) || (!st.invalid && err != nil) {
			t.Fatalf("step %d: err %v", i, err)
		}
		if out != st.out || suspect != st.suspect {
			t.Fatalf("step %d: outcome %d suspect %v, want %d %v", i, out, suspect, st.out, st.suspect)
		}
	}
	if len(s.published) != 4 || len(s.live) != 3 {
		t.Fatalf("published %d (want 4), live %d (want 3)", len(s.published), len(s.live))
	}
	if !s.published[3].Suspect || s.published[0].Cell == 0 || s.published[0].Resolution != 9 {
		t.Fatalf("fixes %+v", s.published)
	}
}

// flaky fails its first publish, then works.
type flaky struct {
	sink
	failed bool
}

func (f *flaky) Position(ctx context.Context, fix tracking.Fix) error {
	if !f.failed {
		f.failed = true
		return errs.E("test", errs.Unavailable, "nats down")
	}
	return f.sink.Position(ctx, fix)
}

// TestRetryAfterFailedPublishIsNotADuplicate: a ping whose publish failed is processed again
// when the client retries it, so it is not lost as a "duplicate".
func TestRetryAfterFailedPublishIsNotADuplicate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	pub := &flaky{}
	p := &tracking.Pipeline{
		Resolution: 9, Filter: position.NewFilter(position.Limits{}, 16),
		Tracker: route.NewTracker(route.NewModel(route.ModelConfig{})), Live: &sink{}, Publish: pub,
		Now: func() time.Time { return now },
	}
	ping := position.Ping{Vehicle: "v", At: now.Add(-time.Minute), Lat: 52.3, Lng: 4.9, SpeedMPS: 10}
	if out, _, err := p.Ingest(context.Background(), ping); err == nil || out != tracking.Rejected {
		t.Fatalf("first ingest with NATS down = %v, %v; want Rejected with the error", out, err)
	}
	out, _, err := p.Ingest(context.Background(), ping)
	if err != nil || out != tracking.Accepted {
		t.Fatalf("retry = %v, %v; want Accepted", out, err)
	}
	if len(pub.published) != 1 {
		t.Errorf("published %d times, want 1", len(pub.published))
	}
	if out, _, _ := p.Ingest(context.Background(), ping); out != tracking.Duplicate {
		t.Errorf("a third send after success = %v, want Duplicate", out)
	}
}
