package readings

import (
	"math/rand/v2"
	"testing"
)

// benchValues is a noisy signal with spikes, reused by every benchmark.
var benchValues = func() []float64 {
	rng := rand.New(rand.NewPCG(1, 1))
	v := make([]float64, 1<<16)
	for i := range v {
		v[i] = 40 + 0.3*rng.NormFloat64()
		if i%20 == 0 {
			v[i] += 5
		}
	}
	return v
}()

var sink float64

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkHampelKernel is the incremental kernel: push, rolling median, MAD, test.
func BenchmarkHampelKernel(b *testing.B) {
	for _, size := range []int{15, 61} {
		b.Run(sizeName(size), func(b *testing.B) {
			w := NewWindow(size)
			var spikes float64
			for i := 0; b.Loop(); i++ {
				v := benchValues[i&(len(benchValues)-1)]
				if w.Outlier(v, 4, 0) {
					spikes++
				}
				w.Push(v)
			}
			sink = spikes
			reportRate(b)
		})
	}
}

// BenchmarkHampelNaive is the baseline: copy and sort each window for the median, then sort the
// deviations for the MAD.
func BenchmarkHampelNaive(b *testing.B) {
	for _, size := range []int{15, 61} {
		b.Run(sizeName(size), func(b *testing.B) {
			ring := make([]float64, size)
			scratch := make([]float64, 2*size)
			var spikes float64
			for i := 0; b.Loop(); i++ {
				v := benchValues[i&(len(benchValues)-1)]
				med, mad := NaiveMedianMAD(ring, scratch)
				if d := v - med; d*d > 16*sq(madScale*mad) {
					spikes++
				}
				ring[i%size] = v
			}
			sink = spikes
			reportRate(b)
		})
	}
}

// BenchmarkFilterCheck is every per-sensor check of a reading (range, rate, dropout, Hampel,
// flat line) at window 15.
func BenchmarkFilterCheck(b *testing.B) {
	f := NewFilter(tempSpec(), DefaultConfig(Temperature))
	for i := 0; b.Loop(); i++ {
		fl, _ := f.Check(Reading{Sensor: "t1", Time: int64(i+1) * 60 * sec, Value: benchValues[i&(len(benchValues)-1)]})
		sink += float64(fl)
	}
	reportRate(b)
}

func sq(x float64) float64 { return x * x }

func sizeName(n int) string {
	if n == 15 {
		return "window=15"
	}
	return "window=61"
}

// BenchmarkMachineProcess is a reading through a machine of two temperature sensors and one
// vibration sensor: every check, peers' drift, the fault detector and the health assessment.
// "faulty" has t2 stuck (declared faulty, its data followed apart for health).
func BenchmarkMachineProcess(b *testing.B) {
	for _, stuck := range []bool{false, true} {
		name := "healthy"
		if stuck {
			name = "faulty"
		}
		b.Run(name, func(b *testing.B) {
			m := NewMachine("m1", HealthConfig{Calibration: 200, Smoothing: 10, Raise: 4, Lower: 2.5})
			ids := []string{"t1", "t2", "v1"}
			for _, id := range ids {
				s, k := tempSpec(), Temperature
				if id == "v1" {
					k = Vibration
					s.Kind = k
				}
				s.ID = id
				m.AddSensor(s, DefaultConfig(k))
			}
			for i := 0; b.Loop(); i++ {
				id := ids[i%3]
				v := benchValues[i&(len(benchValues)-1)]
				if stuck && id == "t2" && i > 3000 {
					v = 40
				}
				res, err := m.Process(Reading{Sensor: id, Time: int64(i/3+1) * 60 * sec, Value: v})
				if err != nil {
					b.Fatal(err)
				}
				sink += res.Value
			}
			reportRate(b)
		})
	}
}
