package readings

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestWindowMatchesNaive(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 2, 3, 4, 7, 15, 16, 31} {
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		w := NewWindow(size)
		var hist []float64
		scratch := make([]float64, 2*size)
		for i := range 2000 {
			v := float64(rng.IntN(20)) // many ties on purpose
			if i%3 == 0 {
				v = rng.NormFloat64() * 10
			}
			w.Push(v)
			hist = append(hist, v)
			last := hist[max(0, len(hist)-size):]
			wantMed, wantMAD := NaiveMedianMAD(last, scratch)
			med := w.Median()
			if med != wantMed {
				t.Fatalf("size %d step %d: median %v, want %v", size, i, med, wantMed)
			}
			if mad := w.MAD(med); mad != wantMAD {
				t.Fatalf("size %d step %d: MAD %v, want %v", size, i, mad, wantMAD)
			}
		}
	}
}

func TestWindowVariance(t *testing.T) {
	t.Parallel()
	w := NewWindow(4)
	for _, v := range []float64{9, 1, 2, 3, 4} {
		w.Push(v)
	}
	if got := w.Variance(); got != 1.25 {
		t.Fatalf("variance = %v, want 1.25", got)
	}
}

func TestOutlierMatchesNaive(t *testing.T) {
	t.Parallel()
	for _, size := range []int{5, 6, 15, 16, 61} {
		rng := rand.New(rand.NewPCG(uint64(size), 3))
		w := NewWindow(size)
		scratch := make([]float64, 2*size)
		var hist []float64
		spikes := 0
		for i := range 5000 {
			v := 40 + rng.NormFloat64()
			if i%10 == 0 {
				v += 6 * rng.NormFloat64()
			}
			if i >= size {
				med, mad := NaiveMedianMAD(hist[len(hist)-size:], scratch)
				want := math.Abs(v-med) > 4*max(madScale*mad, 0.1)
				if got := w.Outlier(v, 4, 0.1); got != want {
					t.Fatalf("size %d step %d: outlier %v, want %v", size, i, got, want)
				}
				if want {
					spikes++
				}
			}
			w.Push(v)
			hist = append(hist, v)
		}
		if spikes == 0 {
			t.Fatalf("size %d: no outlier at all: the test proves nothing", size)
		}
	}
}

func TestFlatterAgreesWithVariance(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 8))
	for range 2000 {
		w := NewWindow(1 + rng.IntN(30))
		spread := []float64{0, 1e-4, 1e-3, 0.1, 10}[rng.IntN(5)]
		for range w.Size {
			w.Push(40 + spread*rng.NormFloat64())
		}
		for _, v := range []float64{1e-6, 1e-4, 1e-2} {
			if got, want := w.flatter(v), w.Variance() < v; got != want {
				t.Fatalf("size %d spread %v: flatter(%v) = %v, variance %v", w.Size, spread, v, got, w.Variance())
			}
		}
	}
}
