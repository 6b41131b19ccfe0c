package web

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/catalog"
)

// streamTTL is how long one listing of every stream's state serves the list pages: one
// JetStream request per page of 256 streams, instead of one per product.
const streamTTL = 5 * time.Second

// streamCache keeps the latest listing of every stream's state.
type streamCache struct {
	js  jetstream.JetStream
	now func() time.Time

	mu     sync.Mutex
	at     time.Time
	states map[string]jetstream.StreamState
	ok     bool
}

func newStreamCache(js jetstream.JetStream, now func() time.Time) *streamCache {
	return &streamCache{js: js, now: now}
}

// snapshot returns every stream's state by name, listed at most streamTTL ago, and whether
// JetStream could be read.
func (s *streamCache) snapshot(ctx context.Context) (map[string]jetstream.StreamState, bool) {
	if s.js == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states != nil && s.now().Sub(s.at) < streamTTL {
		return s.states, s.ok
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	states := map[string]jetstream.StreamState{}
	lister := s.js.ListStreams(ctx)
	for info := range lister.Info() {
		states[info.Config.Name] = info.State
	}
	s.at, s.states, s.ok = s.now(), states, lister.Err() == nil
	return s.states, s.ok
}

// freshness judges a listed product from the snapshot, the way catalog.Assess judges an
// observation (without its consumers).
func (s *streamCache) freshness(states map[string]jetstream.StreamState, ok bool, sum catalog.Summary, now time.Time) catalog.Freshness {
	o := catalog.Observed{At: now, Readable: ok}
	if st, found := states[sum.Stream]; found {
		o.StreamExists = true
		o.Messages, o.Bytes, o.FirstSeq, o.LastSeq = st.Msgs, st.Bytes, st.FirstSeq, st.LastSeq
		if st.Msgs > 0 {
			o.LastTime = st.LastTime
		}
	}
	return catalog.Assess(o, sum.Freshness)
}
