// Package sim simulates a factory for the quality domain: machines whose sensors follow a
// daily load cycle with noise, injected sensor faults (spikes, stuck-at, drift, dropout) and
// injected real failures (bearing wear: vibration and temperature rising together), each with
// a ground-truth label. It is deterministic for a seed, so tests score the filters on it.
package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"meshwork.dev/domains/quality/readings"
)

// Label kinds of ground truth.
const (
	LabelSpike   = "spike"
	LabelStuck   = "stuck"
	LabelDrift   = "drift"
	LabelDropout = "dropout"
	LabelWear    = "bearing-wear"
)

// Config shapes a factory.
type Config struct {
	// Machines is how many machines; Seed makes the run repeatable.
	Machines int
	Seed     uint64
	// Start is the first sample time; Interval the sampling interval.
	Start    time.Time
	Interval time.Duration
	// FailureEvery puts bearing wear on every FailureEvery-th machine (0: none).
	FailureEvery int
	// FaultsFrom is when sensor faults and failures may start (after calibration).
	FaultsFrom time.Duration
	// Centre and Radius (metres) bound where the machines stand; a zero Radius means
	// DefaultRadius.
	Centre LatLng
	Radius float64
}

// DefaultConfig is six machines sampled every minute, wear on every third.
func DefaultConfig() Config {
	return Config{Machines: 6, Seed: 1, Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Interval: time.Minute, FailureEvery: 3, FaultsFrom: 30 * time.Hour,
		Centre: DefaultCentre, Radius: DefaultRadius}
}

// Episode is one labelled event: a sensor fault (Sensor set) or a machine failure.
type Episode struct {
	// Machine and Sensor it concerns (Sensor empty for a machine failure).
	Machine, Sensor string
	// Label is the kind of event.
	Label string
	// Start and End bound it (Unix ns, End exclusive).
	Start, End int64
}

// Sample is one reading with its ground truth.
type Sample struct {
	// Machine is the machine id.
	Machine string
	// Reading is the sensor, time and value.
	readings.Reading
	// Label is the injected fault or failure affecting this value, "" when normal: during a
	// spike episode only the spiked samples carry it.
	Label string
}

type sensor struct {
	spec   readings.Spec
	base   float64 // level at zero load
	gain   float64 // rise at full load
	noise  float64
	wear   float64 // rise at full wear
	offset float64
}

type machine struct {
	id      string
	at      LatLng
	phase   float64
	sensors []*sensor
	wear    *Episode
}

// Factory generates samples tick by tick.
type Factory struct {
	cfg      Config
	rng      *rand.Rand
	machines []*machine
	episodes []Episode
	tick     int64
	stuckAt  map[string]float64
}

// Specs returns the registry of a factory built from cfg, machine by machine.
func (f *Factory) Specs() map[string][]readings.Spec {
	out := map[string][]readings.Spec{}
	for _, m := range f.machines {
		for _, s := range m.sensors {
			out[m.id] = append(out[m.id], s.spec)
		}
	}
	return out
}

// Episodes returns the ground truth planned up to horizon ticks.
func (f *Factory) Episodes() []Episode { return f.episodes }

// New builds a factory and plans its faults and failures over the given span.
func New(cfg Config, span time.Duration) *Factory {
	f := &Factory{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 7)), stuckAt: map[string]float64{}}
	for i := range cfg.Machines {
		m := &machine{id: fmt.Sprintf("m%02d", i+1), phase: f.rng.Float64() * 2 * math.Pi}
		add := func(name string, k readings.Kind, unit float64, base, gain, noise, wear, lo, hi float64) {
			m.sensors = append(m.sensors, &sensor{
				spec: readings.Spec{ID: m.id + "-" + name, Machine: m.id, Kind: k, Min: lo, Max: hi,
					Interval: cfg.Interval},
				base: base, gain: gain, noise: noise, wear: wear, offset: unit * (f.rng.Float64()*2 - 1),
			})
		}
		for j := 1; j <= 3; j++ {
			add(fmt.Sprintf("temp-%d", j), readings.Temperature, 1, 40, 12, 0.3, 15, -20, 150)
		}
		for j := 1; j <= 2; j++ {
			add(fmt.Sprintf("vib-%d", j), readings.Vibration, 0.2, 1.5, 1, 0.08, 3, 0, 50)
		}
		add("current", readings.Current, 0.5, 10, 20, 0.5, 2, 0, 200)
		add("running", readings.Running, 0, 1, 0, 0, 0, 0, 1)
		f.machines = append(f.machines, m)
	}
	radius := cfg.Radius
	if radius <= 0 {
		radius = DefaultRadius
	}
	for i, at := range place(len(f.machines), cfg.Seed, cfg.Centre, radius) {
		f.machines[i].at = at
	}
	f.plan(span)
	return f
}

// Locations returns where each machine stands, by machine id: within Config.Radius of
// Config.Centre, the same for the same seed.
func (f *Factory) Locations() map[string]LatLng {
	out := make(map[string]LatLng, len(f.machines))
	for _, m := range f.machines {
		out[m.id] = m.at
	}
	return out
}

func (f *Factory) ticks(d time.Duration) int64 { return int64(d / f.cfg.Interval) }

func (f *Factory) at(tick int64) int64 {
	return f.cfg.Start.Add(time.Duration(tick) * f.cfg.Interval).UnixNano()
}

// plan lays out, per machine, one sensor fault at a time with quiet gaps, and bearing wear
// on every FailureEvery-th machine (no sensor faults on it once the wear starts).
func (f *Factory) plan(span time.Duration) {
	end := f.ticks(span)
	for i, m := range f.machines {
		limit := end
		if f.cfg.FailureEvery > 0 && (i+1)%f.cfg.FailureEvery == 0 {
			start := f.ticks(f.cfg.FaultsFrom) + f.ticks(12*time.Hour) + f.rng.Int64N(f.ticks(6*time.Hour))
			m.wear = &Episode{Machine: m.id, Label: LabelWear, Start: start, End: end}
			f.episodes = append(f.episodes, *m.wear)
			limit = start - 60
		}
		t := f.ticks(f.cfg.FaultsFrom)
		for {
			s := m.sensors[f.rng.IntN(len(m.sensors)-1)] // never the running flag
			labels := []string{LabelSpike, LabelStuck, LabelDropout}
			if s.spec.Kind == readings.Temperature {
				labels = append(labels, LabelDrift)
			}
			label := labels[f.rng.IntN(len(labels))]
			n := 60 + f.rng.Int64N(120)
			if label == LabelDrift {
				n = 240 + f.rng.Int64N(120)
			}
			if t+n >= limit {
				break
			}
			f.episodes = append(f.episodes, Episode{Machine: m.id, Sensor: s.spec.ID, Label: label, Start: t, End: t + n})
			t += n + 200 + f.rng.Int64N(400)
		}
	}
	// Episodes are planned in ticks; convert to times.
	for i := range f.episodes {
		f.episodes[i].Start, f.episodes[i].End = f.at(f.episodes[i].Start), f.at(f.episodes[i].End)
	}
	sort.Slice(f.episodes, func(a, b int) bool { return f.episodes[a].Start < f.episodes[b].Start })
}

// Next returns the samples of the next tick, machine by machine, sensor by sensor.
func (f *Factory) Next() []Sample {
	now := f.at(f.tick)
	f.tick++
	day := float64(24 * time.Hour)
	var out []Sample
	for _, m := range f.machines {
		load := 0.6 + 0.3*math.Sin(2*math.Pi*float64(now%int64(day))/day+m.phase)
		wear, wearLabel := 0.0, ""
		if m.wear != nil && now >= f.at(m.wear.Start) {
			wear = min(1, float64(now-f.at(m.wear.Start))/float64(6*time.Hour))
			wearLabel = LabelWear
		}
		for _, s := range m.sensors {
			v := s.base + s.offset + s.gain*load + s.wear*wear + s.noise*f.rng.NormFloat64()
			label := ""
			if s.wear > 0 {
				label = wearLabel
			}
			if ep := f.active(s.spec.ID, now); ep != nil {
				label = ep.Label
				switch ep.Label {
				case LabelSpike:
					label = "" // only the spiked samples are wrong
					if f.rng.Float64() < 0.35 {
						label = LabelSpike
						sign := 1.0
						if f.rng.IntN(2) == 0 {
							sign = -1
						}
						v += sign * (8 + 12*f.rng.Float64()) * s.noise
					}
				case LabelStuck:
					if _, ok := f.stuckAt[s.spec.ID]; !ok {
						f.stuckAt[s.spec.ID] = v
					}
					v = f.stuckAt[s.spec.ID]
				case LabelDrift:
					v += 6 * float64(now-ep.Start) / float64(ep.End-ep.Start)
				case LabelDropout:
					if f.rng.Float64() < 0.6 {
						continue
					}
				}
			} else {
				delete(f.stuckAt, s.spec.ID)
				if f.rng.Float64() < 0.002 { // a lone lost sample is normal
					continue
				}
			}
			out = append(out, Sample{Machine: m.id, Label: label,
				Reading: readings.Reading{Sensor: s.spec.ID, Time: now, Value: v}})
		}
	}
	return out
}

func (f *Factory) active(sensor string, now int64) *Episode {
	for i := range f.episodes {
		e := &f.episodes[i]
		if e.Start > now {
			return nil
		}
		if e.Sensor == sensor && now < e.End {
			return e
		}
	}
	return nil
}
