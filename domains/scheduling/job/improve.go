package job

import "slices"

// eps is the least improvement the local search accepts, in cost minutes.
const eps = 1e-6

// improve runs local search on orders in place: relocate moves (including inserting an
// unassigned job) and swaps between routes, until a pass finds nothing or MaxPasses.
func (pr *problem) improve(orders [][]int, unassigned *[]int) {
	passes := pr.p.MaxPasses
	if passes <= 0 {
		passes = 20
	}
	costs := make([]float64, len(orders))
	var buf []Visit
	for e := range orders {
		_, costs[e], _ = pr.route(e, orders[e], buf)
	}
	for range passes {
		if pr.ctx.Err() != nil || pr.err != nil {
			return
		}
		improved := pr.insertUnassigned(orders, costs, unassigned)
		for from := range orders {
			for pos := 0; pos < len(orders[from]); pos++ {
				if pr.relocate(orders, costs, from, pos) {
					improved = true
					pos--
				}
			}
		}
		for a := range orders {
			for b := a + 1; b < len(orders); b++ {
				if pr.swap(orders, costs, a, b) {
					improved = true
				}
			}
		}
		if !improved {
			return
		}
	}
}

// bestInsert returns the cheapest position to insert job j into engineer e's route and the
// route cost after it, or -1 when it fits nowhere.
func (pr *problem) bestInsert(order []int, e, j int) (int, float64) {
	if !pr.engs[e].Has(pr.jobs[j].Skill) {
		return -1, 0
	}
	bestPos, bestCost := -1, 0.0
	trial := make([]int, len(order)+1)
	var buf []Visit
	for pos := 0; pos <= len(order); pos++ {
		copy(trial, order[:pos])
		trial[pos] = j
		copy(trial[pos+1:], order[pos:])
		var c float64
		var ok bool
		buf, c, ok = pr.route(e, trial, buf)
		if ok && (bestPos < 0 || c < bestCost) {
			bestPos, bestCost = pos, c
		}
	}
	return bestPos, bestCost
}

// relocate moves the job at orders[from][pos] to its best place on any route when that lowers
// the total cost.
func (pr *problem) relocate(orders [][]int, costs []float64, from, pos int) bool {
	j := orders[from][pos]
	rest := slices.Delete(slices.Clone(orders[from]), pos, pos+1)
	_, restCost, _ := pr.route(from, rest, nil)
	saving := costs[from] - restCost
	bestE, bestPos, bestDelta := -1, 0, -eps
	for e := range orders {
		base := orders[e]
		if e == from {
			base = rest
		}
		p, c := pr.bestInsert(base, e, j)
		if p < 0 {
			continue
		}
		var delta float64
		if e == from {
			delta = c - costs[from]
		} else {
			delta = c - costs[e] - saving
		}
		if delta < bestDelta {
			bestE, bestPos, bestDelta = e, p, delta
		}
	}
	if bestE < 0 {
		return false
	}
	if bestE == from {
		orders[from] = slices.Insert(rest, bestPos, j)
	} else {
		orders[from] = rest
		orders[bestE] = slices.Insert(slices.Clone(orders[bestE]), bestPos, j)
		_, costs[bestE], _ = pr.route(bestE, orders[bestE], nil)
	}
	_, costs[from], _ = pr.route(from, orders[from], nil)
	return true
}

// swap exchanges one job of route a with one of route b, in place, when that lowers the cost
// of both together; it applies the first improving swap found.
func (pr *problem) swap(orders [][]int, costs []float64, a, b int) bool {
	var bufA, bufB []Visit
	for i, ja := range orders[a] {
		if !pr.engs[b].Has(pr.jobs[ja].Skill) {
			continue
		}
		for k, jb := range orders[b] {
			if !pr.engs[a].Has(pr.jobs[jb].Skill) {
				continue
			}
			na, nb := slices.Clone(orders[a]), slices.Clone(orders[b])
			na[i], nb[k] = jb, ja
			var ca, cb float64
			var okA, okB bool
			bufA, ca, okA = pr.route(a, na, bufA)
			bufB, cb, okB = pr.route(b, nb, bufB)
			if okA && okB && ca+cb < costs[a]+costs[b]-eps {
				orders[a], orders[b], costs[a], costs[b] = na, nb, ca, cb
				return true
			}
		}
	}
	return false
}

// insertUnassigned places unassigned jobs where they now fit.
func (pr *problem) insertUnassigned(orders [][]int, costs []float64, unassigned *[]int) bool {
	improved := false
	kept := (*unassigned)[:0]
	for _, j := range *unassigned {
		bestE, bestPos, bestDelta := -1, 0, 0.0
		for e := range orders {
			p, c := pr.bestInsert(orders[e], e, j)
			if p >= 0 && (bestE < 0 || c-costs[e] < bestDelta) {
				bestE, bestPos, bestDelta = e, p, c-costs[e]
			}
		}
		if bestE < 0 || bestDelta >= pr.jobs[j].Weight()*UnassignedPenalty {
			kept = append(kept, j)
			continue
		}
		orders[bestE] = slices.Insert(orders[bestE], bestPos, j)
		_, costs[bestE], _ = pr.route(bestE, orders[bestE], nil)
		improved = true
	}
	*unassigned = kept
	return improved
}
