package chaos

// Event is one event a product stores, as the counting sees it.
type Event struct {
	// ID is the event id, the CloudEvents ce-id header.
	ID string
	// Key is the unit of order: events of one key must keep their Order.
	Key string
	// Input names what the load sent that this event stands for (for a raw reading its
	// sensor and sequence number); "" when the event cannot be traced to any input.
	Input string
	// Order must not decrease from one event of Key to the next in stream order (a sequence
	// number, a sample time).
	Order int64
}

// Count is what one product holds against what the load expects of it.
type Count struct {
	// Product is the product's id, or a name for what is counted.
	Product string
	// Expected is how many inputs the load expects to find exactly once.
	Expected int
	// Stored is how many events the product holds for the load.
	Stored int
	// Lost is how many expected inputs have no event.
	Lost int
	// DuplicateIDs is how many events repeat an event id already stored: the duplicate
	// window let a second copy in.
	DuplicateIDs int
	// DuplicateInputs is how many events with an id of their own stand for an input already
	// stored: the input was derived twice, under two ids.
	DuplicateInputs int
	// OutOfOrder is how many events come after a later event of their key.
	OutOfOrder int
	// Extra is how many events stand for no expected input (Input "" or unknown).
	Extra int
	// Redelivered is how many deliveries the product's consumers got more than once and had
	// to drop (idempotent consumers, their inboxes): counted apart, never a failure; -1 when
	// not measured.
	Redelivered int
	// LostInputs names up to five lost inputs, to start the search from; OutOfOrderInputs
	// and ExtraInputs likewise the first events out of order and the first extra ones.
	LostInputs, OutOfOrderInputs, ExtraInputs []string
}

// examples is how many inputs a Count names of each kind.
const examples = 5

func note(list []string, s string) []string {
	if len(list) < examples {
		list = append(list, s)
	}
	return list
}

// Duplicated is every stored duplicate, by id or by input.
func (c Count) Duplicated() int { return c.DuplicateIDs + c.DuplicateInputs }

// Failed reports whether the product lost or stored twice anything the load expected.
func (c Count) Failed() bool { return c.Lost > 0 || c.Duplicated() > 0 }

// CountEvents counts the events of product, in stream order, against the inputs expected
// exactly once. An expected input listed twice is expected once.
func CountEvents(product string, expected []string, events []Event) Count {
	want := make(map[string]bool, len(expected))
	for _, in := range expected {
		want[in] = true
	}
	c := Count{Product: product, Expected: len(want), Stored: len(events), Redelivered: -1}
	ids := make(map[string]bool, len(events))
	seen := make(map[string]bool, len(events))
	last := map[string]int64{}
	for _, ev := range events {
		if ids[ev.ID] {
			c.DuplicateIDs++
			continue
		}
		ids[ev.ID] = true
		switch {
		case ev.Input == "" || !want[ev.Input]:
			c.Extra++
			c.ExtraInputs = note(c.ExtraInputs, ev.ID+" "+ev.Input)
		case seen[ev.Input]:
			c.DuplicateInputs++
		}
		seen[ev.Input] = true
		if prev, ok := last[ev.Key]; ok && ev.Order < prev {
			c.OutOfOrder++
			c.OutOfOrderInputs = note(c.OutOfOrderInputs, ev.ID+" "+ev.Input)
			continue
		}
		last[ev.Key] = ev.Order
	}
	for _, in := range expected {
		if want[in] && !seen[in] {
			c.Lost++
			c.LostInputs = note(c.LostInputs, in)
			want[in] = false // listed twice, lost once
		}
	}
	return c
}
