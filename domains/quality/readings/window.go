package readings

import (
	"math"
	"sort"
)

// Window is the last Size values (finite: the filter never pushes NaN or ±Inf) of a sensor, kept twice: in arrival order (a ring) and sorted,
// so the rolling median is an index and the MAD a half-merge, with no sort per reading. Push
// costs one binary search and one shift of at most Size values. Its fields are exported so the
// filter state serialises as JSON.
type Window struct {
	// Size is the capacity.
	Size int `json:"size"`
	// Ring holds the values in arrival order; when full, Head is the oldest.
	Ring []float64 `json:"ring"`
	// Head is the position of the oldest value once the ring is full.
	Head int `json:"head"`
	// Sorted holds the same values in ascending order.
	Sorted []float64 `json:"sorted"`
}

// NewWindow returns an empty window of the given size (at least 1).
func NewWindow(size int) *Window {
	size = max(size, 1)
	return &Window{Size: size, Ring: make([]float64, 0, size), Sorted: make([]float64, 0, size)}
}

// Len is the number of values held.
func (w *Window) Len() int { return len(w.Ring) }

// Full reports whether the window holds Size values.
func (w *Window) Full() bool { return len(w.Ring) == w.Size }

// Push adds v, evicting the oldest value when full.
func (w *Window) Push(v float64) {
	if len(w.Ring) < w.Size {
		w.Ring = append(w.Ring, v)
		i := sort.SearchFloat64s(w.Sorted, v)
		w.Sorted = append(w.Sorted, 0)
		copy(w.Sorted[i+1:], w.Sorted[i:])
		w.Sorted[i] = v
		return
	}
	old := w.Ring[w.Head]
	w.Ring[w.Head] = v
	w.Head++
	if w.Head == w.Size {
		w.Head = 0
	}
	s := w.Sorted
	i := search(s, old)
	// Move the values between old's slot and v's place by one, then drop v in.
	if v > old {
		j := search(s[i+1:], v) + i // last index v may take
		copy(s[i:j], s[i+1:j+1])
		s[j] = v
		return
	}
	j := search(s[:i], v)
	copy(s[j+1:i+1], s[j:i])
	s[j] = v
}

// linearMax is the size up to which counting beats a binary search: the count of values below
// x is its index in a sorted slice, and a short counting loop has no branch to mispredict.
const linearMax = 24

// search is the index of the first value of the ascending s not less than x. The loop is
// branch-free (the compiler emits conditional moves), which matters for small windows of
// noisy data where a branchy search mispredicts half the time.
func search(s []float64, x float64) int {
	n := len(s)
	if n <= linearMax {
		c := 0
		for _, e := range s {
			c += int(math.Float64bits(e-x) >> 63) // e < x, as the sign of e-x: no branch
		}
		return c
	}
	base := 0
	for n > 1 {
		half := n >> 1
		if s[base+half-1] < x {
			base += half
		}
		n -= half
	}
	if s[base] < x {
		base++
	}
	return base
}

// Median is the median of the values held (0 when empty).
func (w *Window) Median() float64 {
	s := w.Sorted
	n := len(s)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return s[n/2]
	default:
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// MAD is the median absolute deviation from med, the median. The deviations of the values
// left of the median and right of it are each sorted already, so merging them from the
// middle outwards finds their median in n/2 steps.
func (w *Window) MAD(med float64) float64 {
	s := w.Sorted
	n := len(s)
	if n == 0 {
		return 0
	}
	r := search(s, med)
	l := r - 1
	var a, d float64
	for k := 0; k <= n/2; k++ {
		a = d
		if l >= 0 && (r >= n || med-s[l] <= s[r]-med) {
			d = med - s[l]
			l--
		} else {
			d = s[r] - med
			r++
		}
	}
	if n%2 == 1 {
		return d
	}
	return (a + d) / 2
}

// Outlier is the Hampel decision: whether v lies more than k scaled MADs (1.4826·MAD), and
// more than k·floor, from the window's median. For an odd size it needs no MAD: MAD < t
// exactly when more than half the values lie within t of the median, and two binary searches
// count those.
func (w *Window) Outlier(v, k, floor float64) bool {
	s := w.Sorted
	n := len(s)
	if n == 0 {
		return false
	}
	med := w.Median()
	d := v - med
	if d < 0 {
		d = -d
	}
	if d <= k*floor {
		return false
	}
	if n%2 == 0 {
		return d > k*madScale*w.MAD(med)
	}
	t := d / (k * madScale)
	inside := search(s, med+t) - above(s, med-t)
	return inside > n/2
}

// above is the index of the first value of the ascending s greater than x (branch-free like
// search).
func above(s []float64, x float64) int {
	n := len(s)
	if n <= linearMax {
		c := len(s)
		for _, e := range s {
			c -= int(math.Float64bits(x-e) >> 63) // drop the e > x
		}
		return c
	}
	base := 0
	for n > 1 {
		half := n >> 1
		if s[base+half-1] <= x {
			base += half
		}
		n -= half
	}
	if s[base] <= x {
		base++
	}
	return base
}

// flatter reports whether the values' variance is below v. A spread (max − min) r bounds the
// variance from below by r²/(2n), so a window with any real spread is answered without a pass
// over its values.
func (w *Window) flatter(v float64) bool {
	n := len(w.Sorted)
	if n == 0 {
		return true
	}
	if r := w.Sorted[n-1] - w.Sorted[0]; r*r >= 2*float64(n)*v {
		return false
	}
	return w.Variance() < v
}

// Variance is the population variance of the values held.
func (w *Window) Variance() float64 {
	n := len(w.Ring)
	if n == 0 {
		return 0
	}
	var sum float64
	for _, v := range w.Ring {
		sum += v
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range w.Ring {
		d := v - mean
		ss += d * d
	}
	return ss / float64(n)
}

// NaiveMedianMAD is the baseline the window is measured against: it copies the values,
// sorts them for the median, then sorts the deviations for the MAD. scratch must hold
// 2*len(values) floats.
func NaiveMedianMAD(values, scratch []float64) (med, mad float64) {
	n := len(values)
	a := scratch[:n]
	copy(a, values)
	sort.Float64s(a)
	med = medianSorted(a)
	d := scratch[n : 2*n]
	for i, v := range a {
		if v > med {
			d[i] = v - med
		} else {
			d[i] = med - v
		}
	}
	sort.Float64s(d)
	return med, medianSorted(d)
}

func medianSorted(s []float64) float64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
