package route

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"
)

// ModelConfig sets how the travel-time model learns and what it assumes where it saw nothing.
type ModelConfig struct {
	// BucketMinutes is the width of a time-of-day bucket; it must divide 1440. Default 60.
	BucketMinutes int
	// DefaultSpeedMPS is the speed assumed on edges never observed. Default 8.3 (30 km/h).
	DefaultSpeedMPS float64
	// Alpha is the floor of the EWMA weight of a new sample: early samples are averaged
	// exactly (weight 1/n) until 1/n falls below Alpha, after which old samples decay
	// geometrically. Default 0.1.
	Alpha float64
	// Clip bounds a new sample to [mean/Clip, mean*Clip] once an edge has MinSamples, so a GPS
	// glitch or a parked van cannot drag the average. Default 2.5.
	Clip float64
	// MinSamples is the number of samples before clipping starts. Default 3.
	MinSamples int64
}

func (c ModelConfig) withDefaults() ModelConfig {
	if c.BucketMinutes <= 0 || 1440%c.BucketMinutes != 0 {
		c.BucketMinutes = 60
	}
	if c.DefaultSpeedMPS <= 0 {
		c.DefaultSpeedMPS = 8.3
	}
	if c.Alpha <= 0 || c.Alpha > 1 {
		c.Alpha = 0.1
	}
	if c.Clip <= 1 {
		c.Clip = 2.5
	}
	if c.MinSamples <= 0 {
		c.MinSamples = 3
	}
	return c
}

// EdgeKey names one directed edge between neighbouring cells in one time-of-day bucket.
type EdgeKey struct {
	From, To h3.Cell
	Bucket   int
}

// EdgeStat is the learned traversal time of an edge.
type EdgeStat struct {
	// Seconds is the robust average traversal time.
	Seconds float64
	// Samples is how many observations went into it.
	Samples int64
	// Updated is the time of the latest observation.
	Updated time.Time
}

// Model learns per-edge, per-bucket traversal times. It is safe for concurrent use.
type Model struct {
	cfg   ModelConfig
	mu    sync.RWMutex
	stats map[EdgeKey]EdgeStat
	dirty map[h3.Cell]struct{}
}

// NewModel returns an empty model.
func NewModel(cfg ModelConfig) *Model {
	return &Model{cfg: cfg.withDefaults(), stats: map[EdgeKey]EdgeStat{}, dirty: map[h3.Cell]struct{}{}}
}

// Config returns the effective configuration, defaults applied.
func (m *Model) Config() ModelConfig { return m.cfg }

// Buckets is the number of time-of-day buckets.
func (m *Model) Buckets() int { return 1440 / m.cfg.BucketMinutes }

// Bucket returns the time-of-day bucket (UTC) of t.
func (m *Model) Bucket(t time.Time) int {
	t = t.UTC()
	return (t.Hour()*60 + t.Minute()) / m.cfg.BucketMinutes
}

// Observe folds one traversal of from→to that started at 'at' and took seconds into the model.
// Non-positive or non-finite durations are ignored.
func (m *Model) Observe(from, to h3.Cell, at time.Time, seconds float64) {
	if seconds <= 0 || math.IsNaN(seconds) || math.IsInf(seconds, 0) {
		return
	}
	k := EdgeKey{From: from, To: to, Bucket: m.Bucket(at)}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats[k]
	if s.Samples >= m.cfg.MinSamples {
		seconds = math.Max(s.Seconds/m.cfg.Clip, math.Min(s.Seconds*m.cfg.Clip, seconds))
	}
	w := math.Max(1/float64(s.Samples+1), m.cfg.Alpha)
	s.Seconds += w * (seconds - s.Seconds)
	s.Samples++
	if at.After(s.Updated) {
		s.Updated = at
	}
	m.stats[k] = s
	m.dirty[from] = struct{}{}
}

// Set stores a learned value as is, for loading a persisted model.
func (m *Model) Set(k EdgeKey, s EdgeStat) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats[k] = s
}

// Stat returns the learned value of an edge in a bucket.
func (m *Model) Stat(k EdgeKey) (EdgeStat, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.stats[k]
	return s, ok
}

// Len is the number of learned (edge, bucket) values.
func (m *Model) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.stats)
}

// Snapshot copies every learned value.
func (m *Model) Snapshot() map[EdgeKey]EdgeStat {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[EdgeKey]EdgeStat, len(m.stats))
	for k, v := range m.stats {
		out[k] = v
	}
	return out
}

// TakeDirty returns the origin cells whose edges changed since the last call, and forgets them.
func (m *Model) TakeDirty() []h3.Cell {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]h3.Cell, 0, len(m.dirty))
	for c := range m.dirty {
		out = append(out, c)
	}
	m.dirty = map[h3.Cell]struct{}{}
	return out
}

// Costs is a compiled, immutable view of a model over a graph: the traversal time of every edge
// in every bucket, in dense arrays for search. Safe for concurrent use.
type Costs struct {
	g         *Graph
	bucketSec float64
	buckets   int
	sec       [][]float32 // [bucket][node*6+slot]
	maxSpeed  float64
	alt       *landmarks // optional ALT bounds (WithLandmarks)
}

// Compile builds the costs of g from the model. The traversal time learned for an edge is the
// time spent crossing its origin cell, so values are pooled per origin cell when an edge lacks
// data: an edge not observed in a bucket takes the mean of its origin cell's edges in that
// bucket; failing that, the slower of the default speed and its (or its cell's) mean over all
// buckets. The last fallback is pessimistic on purpose: vans avoid congested roads, so missing
// data in a bucket more often means "slow then" than "fast then".
func (m *Model) Compile(g *Graph) *Costs {
	nb := m.Buckets()
	c := newCosts(g, nb, m.cfg.BucketMinutes)
	def := m.cfg.DefaultSpeedMPS
	type agg struct{ sum, n float64 }
	add := func(mp map[[2]int32]agg, k [2]int32, s EdgeStat) {
		a := mp[k]
		a.sum += s.Seconds * float64(s.Samples)
		a.n += float64(s.Samples)
		mp[k] = a
	}
	edgeAll := map[[2]int32]agg{}   // (from, to)
	cellAll := map[[2]int32]agg{}   // (from, -1)
	cellBkt := map[[2]int32]agg{}   // (from, bucket)
	exact := map[[3]int32]float64{} // (from, slot, bucket)
	for k, s := range m.Snapshot() {
		from, ok1 := g.Node(k.From)
		to, ok2 := g.Node(k.To)
		if !ok1 || !ok2 || k.Bucket < 0 || k.Bucket >= nb || s.Samples <= 0 {
			continue
		}
		slot := g.Slot(from, to)
		if slot < 0 {
			continue
		}
		add(edgeAll, [2]int32{from, to}, s)
		add(cellAll, [2]int32{from, -1}, s)
		add(cellBkt, [2]int32{from, int32(k.Bucket)}, s)
		exact[[3]int32{from, int32(slot), int32(k.Bucket)}] = s.Seconds
	}
	for i := range g.nbr {
		from := int32(i)
		for s, to := range g.nbr[i] {
			if to == noEdge {
				continue
			}
			base := float64(g.lenM[i][s]) / def
			if a, ok := edgeAll[[2]int32{from, to}]; ok {
				base = math.Max(base, a.sum/a.n)
			} else if a, ok := cellAll[[2]int32{from, -1}]; ok {
				base = math.Max(base, a.sum/a.n)
			}
			for b := 0; b < nb; b++ {
				v := base
				if x, ok := exact[[3]int32{from, int32(s), int32(b)}]; ok {
					v = x
				} else if a, ok := cellBkt[[2]int32{from, int32(b)}]; ok {
					v = a.sum / a.n
				}
				c.sec[b][i*6+s] = float32(v)
			}
		}
	}
	c.finish()
	return c
}

// NewCosts builds costs from a function giving the seconds of edge from→to in bucket b;
// used for ground truth and synthetic benchmarks.
func NewCosts(g *Graph, buckets, bucketMinutes int, seconds func(from, to int32, lenM float64, bucket int) float64) (*Costs, error) {
	if buckets <= 0 || bucketMinutes <= 0 || buckets*bucketMinutes != 1440 {
		return nil, fmt.Errorf("route: new costs: %d buckets of %d minutes do not cover a day", buckets, bucketMinutes)
	}
	c := newCosts(g, buckets, bucketMinutes)
	for i := range g.nbr {
		for s, to := range g.nbr[i] {
			if to == noEdge {
				continue
			}
			for b := 0; b < buckets; b++ {
				c.sec[b][i*6+s] = float32(seconds(int32(i), to, float64(g.lenM[i][s]), b))
			}
		}
	}
	c.finish()
	return c, nil
}

func newCosts(g *Graph, buckets, bucketMinutes int) *Costs {
	c := &Costs{g: g, buckets: buckets, bucketSec: float64(bucketMinutes * 60), sec: make([][]float32, buckets)}
	for b := range c.sec {
		c.sec[b] = make([]float32, len(g.nbr)*6)
	}
	return c
}

// finish computes the maximum speed anywhere in the model, which makes the A* heuristic
// (distance ÷ max speed) admissible: no edge can be crossed faster.
func (c *Costs) finish() {
	c.maxSpeed = 0
	for b := range c.sec {
		for i := range c.g.nbr {
			for s, to := range c.g.nbr[i] {
				if to == noEdge {
					continue
				}
				sec := float64(c.sec[b][i*6+s])
				if sec <= 0 {
					sec = 1e-3
					c.sec[b][i*6+s] = float32(sec)
				}
				c.maxSpeed = math.Max(c.maxSpeed, float64(c.g.lenM[i][s])/sec)
			}
		}
	}
	if c.maxSpeed == 0 {
		c.maxSpeed = 1
	}
}

// Graph is the graph the costs were compiled for.
func (c *Costs) Graph() *Graph { return c.g }

// MaxSpeedMPS is the highest speed on any edge in any bucket.
func (c *Costs) MaxSpeedMPS() float64 { return c.maxSpeed }

// bucketAt returns the bucket of a moment given as seconds since midnight UTC.
func (c *Costs) bucketAt(daySec float64) int {
	b := int(daySec/c.bucketSec) % c.buckets
	if b < 0 {
		b += c.buckets
	}
	return b
}

// Edge returns the seconds to cross from→to when leaving at daySec (seconds since midnight UTC).
func (c *Costs) Edge(from int32, slot int, daySec float64) float64 {
	return float64(c.sec[c.bucketAt(daySec)][int(from)*6+slot])
}

// DaySeconds is t as seconds since midnight UTC.
func DaySeconds(t time.Time) float64 {
	t = t.UTC()
	return float64(t.Hour()*3600+t.Minute()*60+t.Second()) + float64(t.Nanosecond())/1e9
}
