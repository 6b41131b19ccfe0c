package route

import (
	"errors"
	"math"
	"math/rand/v2"
)

// ExactStopLimit is the largest number of stops solved exactly (Held-Karp); beyond it
// OptimizeOrder uses nearest neighbour followed by 2-opt and or-opt.
const ExactStopLimit = 10

// ErrNoStops is returned when there is nothing to order.
var ErrNoStops = errors.New("route: no stops")

// Tour is a visiting order of stops.
type Tour struct {
	// Order holds stop indexes (1..n in the matrix, returned as 0..n-1) in visiting order.
	Order []int
	// Cost is the total cost, including the return to start when asked.
	Cost float64
	// Exact reports whether the order is proven optimal.
	Exact bool
}

// OptimizeOrder orders the stops of a cost matrix where row and column 0 are the start and
// 1..n the stops. Costs may be asymmetric. Up to ExactStopLimit stops the answer is exact.
func OptimizeOrder(m [][]float64, returnToStart bool) (Tour, error) {
	n := len(m) - 1
	if n < 1 {
		return Tour{}, ErrNoStops
	}
	if n <= ExactStopLimit {
		return HeldKarp(m, returnToStart)
	}
	return Heuristic(m, returnToStart)
}

// HeldKarp solves the order exactly by dynamic programming over subsets, O(2^n·n²).
// It refuses more than 20 stops.
func HeldKarp(m [][]float64, returnToStart bool) (Tour, error) {
	n := len(m) - 1
	if n < 1 {
		return Tour{}, ErrNoStops
	}
	if n > 20 {
		return Tour{}, errors.New("route: held-karp: more than 20 stops")
	}
	full := 1 << n
	dp := make([]float64, full*n)
	par := make([]int8, full*n)
	for i := range dp {
		dp[i] = math.Inf(1)
	}
	for j := 0; j < n; j++ {
		dp[(1<<j)*n+j] = m[0][j+1]
		par[(1<<j)*n+j] = -1
	}
	for set := 1; set < full; set++ {
		for j := 0; j < n; j++ {
			cur := dp[set*n+j]
			if set&(1<<j) == 0 || math.IsInf(cur, 1) {
				continue
			}
			for k := 0; k < n; k++ {
				if set&(1<<k) != 0 {
					continue
				}
				ns := set | 1<<k
				if v := cur + m[j+1][k+1]; v < dp[ns*n+k] {
					dp[ns*n+k], par[ns*n+k] = v, int8(j)
				}
			}
		}
	}
	best, last := math.Inf(1), -1
	for j := 0; j < n; j++ {
		v := dp[(full-1)*n+j]
		if returnToStart {
			v += m[j+1][0]
		}
		if v < best {
			best, last = v, j
		}
	}
	order := make([]int, n)
	set := full - 1
	for i := n - 1; i >= 0; i-- {
		order[i] = last
		p := int(par[set*n+last])
		set &^= 1 << last
		last = p
	}
	return Tour{Order: order, Cost: best, Exact: true}, nil
}

// Heuristic orders the stops by nearest neighbour from every possible first stop, improves each
// with 2-opt and or-opt until neither helps, keeps the best, then tries a fixed number of
// double-bridge kicks followed by the same local search (iterated local search). It is
// deterministic for a given matrix.
func Heuristic(m [][]float64, returnToStart bool) (Tour, error) {
	n := len(m) - 1
	if n < 1 {
		return Tour{}, ErrNoStops
	}
	best := Tour{Cost: math.Inf(1)}
	for first := 1; first <= n; first++ {
		seq := nearestNeighbour(m, first)
		improve(m, seq, returnToStart)
		if c := tourCost(m, seq, returnToStart); c < best.Cost {
			best = Tour{Order: append([]int(nil), seq...), Cost: c}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(n), 0x5eed))
	seq := make([]int, n)
	for k := 0; k < kicks && n >= 8; k++ {
		copy(seq, best.Order)
		doubleBridge(rng, seq)
		improve(m, seq, returnToStart)
		if c := tourCost(m, seq, returnToStart); c < best.Cost-1e-9 {
			best = Tour{Order: append([]int(nil), seq...), Cost: c}
		}
	}
	for i := range best.Order {
		best.Order[i]--
	}
	return best, nil
}

// kicks is the number of perturbations tried by Heuristic.
const kicks = 30

// doubleBridge cuts seq in four at random points and reconnects the parts as A C B D, a move
// 2-opt and or-opt cannot undo in one step.
func doubleBridge(rng *rand.Rand, seq []int) {
	n := len(seq)
	p := []int{1 + rng.IntN(n-3), 0, 0}
	p[1] = p[0] + 1 + rng.IntN(n-p[0]-2)
	p[2] = p[1] + 1 + rng.IntN(n-p[1]-1)
	out := make([]int, 0, n)
	out = append(out, seq[:p[0]]...)
	out = append(out, seq[p[1]:p[2]]...)
	out = append(out, seq[p[0]:p[1]]...)
	out = append(out, seq[p[2]:]...)
	copy(seq, out)
}

// nearestNeighbour builds a sequence of matrix indexes 1..n starting with first.
func nearestNeighbour(m [][]float64, first int) []int {
	n := len(m) - 1
	used := make([]bool, n+1)
	seq := []int{first}
	used[first] = true
	for len(seq) < n {
		cur, next, bestC := seq[len(seq)-1], -1, math.Inf(1)
		for k := 1; k <= n; k++ {
			if !used[k] && m[cur][k] < bestC {
				next, bestC = k, m[cur][k]
			}
		}
		used[next] = true
		seq = append(seq, next)
	}
	return seq
}

// improve applies 2-opt (segment reversal) and or-opt (moving runs of 1..3 stops) moves while
// they lower the cost. Costs are recomputed in full, which handles asymmetric matrices.
func improve(m [][]float64, seq []int, ret bool) {
	cur := tourCost(m, seq, ret)
	buf := make([]int, len(seq))
	for improved := true; improved; {
		improved = false
		for i := 0; i < len(seq)-1; i++ {
			for j := i + 1; j < len(seq); j++ {
				reverse(seq, i, j)
				if c := tourCost(m, seq, ret); c < cur-1e-9 {
					cur, improved = c, true
				} else {
					reverse(seq, i, j)
				}
			}
		}
		for run := 1; run <= 3; run++ {
			for i := 0; i+run <= len(seq); i++ {
				for to := 0; to <= len(seq)-run; to++ {
					if to == i {
						continue
					}
					moveRun(buf, seq, i, run, to)
					if c := tourCost(m, buf, ret); c < cur-1e-9 {
						copy(seq, buf)
						cur, improved = c, true
					}
				}
			}
		}
	}
}

// moveRun writes into dst the sequence src with the run src[i:i+run] moved to position to of
// the remaining elements.
func moveRun(dst, src []int, i, run, to int) {
	rest := make([]int, 0, len(src)-run)
	rest = append(rest, src[:i]...)
	rest = append(rest, src[i+run:]...)
	k := copy(dst, rest[:to])
	k += copy(dst[k:], src[i:i+run])
	copy(dst[k:], rest[to:])
}

func reverse(s []int, i, j int) {
	for ; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// tourCost is the cost of start → seq… (→ start).
func tourCost(m [][]float64, seq []int, ret bool) float64 {
	c, prev := 0.0, 0
	for _, k := range seq {
		c += m[prev][k]
		prev = k
	}
	if ret {
		c += m[prev][0]
	}
	return c
}

// OrderCost is the cost of visiting stops (0-based) in order from the start of matrix m.
func OrderCost(m [][]float64, order []int, returnToStart bool) float64 {
	seq := make([]int, len(order))
	for i, o := range order {
		seq[i] = o + 1
	}
	return tourCost(m, seq, returnToStart)
}
