package route

import (
	"sync"
	"time"

	"github.com/uber/h3-go/v4"
)

// Tracker turns each vehicle's stream of cells into edge traversal observations for a Model.
// A vehicle's time in a cell, from the first ping inside it to the first ping in the next cell,
// is taken as the traversal time of the edge leaving it. A new cell counts only once a second
// ping confirms it, which filters GPS jitter across a cell border. Pings older than the
// vehicle's latest are ignored, and jumps of more than one cell reset the vehicle without an
// observation. Safe for concurrent use.
type Tracker struct {
	model *Model
	mu    sync.Mutex
	state map[string]*trackState
}

type trackState struct {
	last      time.Time
	cell      h3.Cell // current confirmed cell
	enteredAt time.Time
	anchored  bool // enteredAt is a real border crossing
	pending   h3.Cell
	pendingAt time.Time
}

// NewTracker returns a tracker feeding m.
func NewTracker(m *Model) *Tracker {
	return &Tracker{model: m, state: map[string]*trackState{}}
}

// Observe folds one ping of vehicle at cell c, time t, and reports whether it was used (false
// for a ping older than the vehicle's latest).
func (tr *Tracker) Observe(vehicle string, c h3.Cell, t time.Time) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	st := tr.state[vehicle]
	if st == nil {
		tr.state[vehicle] = &trackState{last: t, cell: c, enteredAt: t}
		return true
	}
	if !t.After(st.last) {
		return false
	}
	st.last = t
	switch {
	case c == st.cell:
		st.pending = 0
	case st.pending != 0 && c == st.pending:
		if st.anchored && st.cell.IsNeighbor(c) {
			tr.model.Observe(st.cell, c, st.enteredAt, st.pendingAt.Sub(st.enteredAt).Seconds())
		}
		st.anchored = st.cell.IsNeighbor(c)
		st.cell, st.enteredAt, st.pending = c, st.pendingAt, 0
	default:
		st.pending, st.pendingAt = c, t
	}
	return true
}

// Forget drops a vehicle's state.
func (tr *Tracker) Forget(vehicle string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.state, vehicle)
}
