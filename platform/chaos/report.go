package chaos

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Fault kinds, in the order the table lists them.
const (
	KillReplica     = "kill -9 domain replica"
	PauseConsumer   = "SIGSTOP consumer past AckWait"
	RestartPostgres = "restart Postgres (immediate)"
	KillNATSNode    = "kill -9 NATS node"
)

// FaultKinds are every kind of fault the suite injects.
var FaultKinds = []string{KillReplica, PauseConsumer, RestartPostgres, KillNATSNode}

// FaultCount is how often one kind of fault was injected.
type FaultCount struct {
	Kind     string
	Injected int
	// Failed counts injections that could not be made (the process was gone, pg_ctl failed).
	Failed int
	// Unavailable, when set, says why the running mesh cannot take this fault at all.
	Unavailable string
	// Notes describe the injections (which process, how long it took to come back).
	Notes []string
}

// Report is one run's outcome: the table meshchaos prints.
type Report struct {
	// Header lines describe the run: its size and the topology actually started.
	Header []string
	// Counts are the products' counts, in the table's order.
	Counts []Count
	// DoubleBookings is how many pairs of one engineer's assignments overlap in scheduling's
	// store; -1 when scheduling was not reached.
	DoubleBookings int
	// Faults are the injections by kind, in FaultKinds order.
	Faults []FaultCount
	// Took is the run's wall time, mesh start-up included.
	Took time.Duration
}

// Problems lists why the run fails: a loss, a stored duplicate, a double booking, or a fault
// the mesh can take injected fewer than min times. None means the run passed.
func (r Report) Problems(min int) []string {
	var out []string
	for _, c := range r.Counts {
		if c.Lost > 0 {
			out = append(out, fmt.Sprintf("%s lost %d (e.g. %s)", c.Product, c.Lost, strings.Join(c.LostInputs, ", ")))
		}
		if c.Duplicated() > 0 {
			out = append(out, fmt.Sprintf("%s duplicated %d", c.Product, c.Duplicated()))
		}
	}
	if r.DoubleBookings > 0 {
		out = append(out, fmt.Sprintf("scheduling double bookings %d", r.DoubleBookings))
	}
	for _, f := range r.Faults {
		if f.Unavailable == "" && f.Injected < min {
			out = append(out, fmt.Sprintf("fault %q injected %d times, want at least %d", f.Kind, f.Injected, min))
		}
	}
	return out
}

// Write prints the report as one table: the header, a row per product, the double bookings,
// a row per fault kind, and the verdict against min injections per fault.
func (r Report) Write(w io.Writer, min int) {
	for _, h := range r.Header {
		fmt.Fprintln(w, h)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "product\texpected\tstored\tlost\tduplicated\t(same id\tsame input)\tout of order\textra\tredelivered, dropped by inboxes")
	for _, c := range r.Counts {
		red := "-"
		if c.Redelivered >= 0 {
			red = fmt.Sprint(c.Redelivered)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\tlost %d\tduplicated %d\t%d\t%d\t%d\t%d\t%s\n", c.Product, c.Expected, c.Stored, c.Lost,
			c.Duplicated(), c.DuplicateIDs, c.DuplicateInputs, c.OutOfOrder, c.Extra, red)
	}
	_ = tw.Flush()
	for _, c := range r.Counts {
		if len(c.OutOfOrderInputs) > 0 {
			fmt.Fprintf(w, "  %s out of order, first: %s\n", c.Product, strings.Join(c.OutOfOrderInputs, ", "))
		}
		if len(c.ExtraInputs) > 0 {
			fmt.Fprintf(w, "  %s extra, first: %s\n", c.Product, strings.Join(c.ExtraInputs, ", "))
		}
	}
	switch {
	case r.DoubleBookings < 0:
		fmt.Fprintln(w, "scheduling double bookings: not measured (scheduling not reached)")
	default:
		fmt.Fprintf(w, "scheduling double bookings: %d\n", r.DoubleBookings)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tinjected\tfailed\tnotes")
	for _, f := range r.Faults {
		if f.Unavailable != "" {
			fmt.Fprintf(tw, "%s\t-\t-\tnot available: %s\n", f.Kind, f.Unavailable)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", f.Kind, f.Injected, f.Failed, strings.Join(f.Notes, "; "))
	}
	_ = tw.Flush()
	if p := r.Problems(min); len(p) > 0 {
		fmt.Fprintf(w, "FAIL after %s: %s\n", r.Took.Round(time.Second), strings.Join(p, "; "))
		return
	}
	fmt.Fprintf(w, "PASS after %s: nothing lost, nothing stored twice, no double booking\n", r.Took.Round(time.Second))
}
