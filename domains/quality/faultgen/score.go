package faultgen

import "sort"

// Grace is how many readings after an episode ends a detection still counts for it: a
// dropout is seen on the first reading after the gap, a fault's tail a little later.
const Grace = 5

// Merge is the largest run of unflagged readings inside one detection.
const Merge = 10

// Score is one fault type's result.
type Score struct {
	Fault Fault
	// Episodes injected, Found of them detected; Detections reported, True of them on an
	// episode of this type.
	Episodes, Found, Detections, True int
	// Precision, Recall and F1 are episode-level: a detection is a run of readings flagged
	// with the type (gaps up to Merge), true when it overlaps an episode of the type.
	Precision, Recall, F1 float64
	// Delays are the readings from each found episode's start to its first detection.
	Delays []int
}

// Report is the whole evaluation.
type Report struct {
	Types []Score
	// Overall pools every type.
	Overall Score
	// CleanReadings, FalseFlags: readings outside every episode (and its grace), and those
	// flagged with any type.
	CleanReadings, FalseFlags int
}

// FalseFlagRate is FalseFlags over CleanReadings.
func (r Report) FalseFlagRate() float64 {
	if r.CleanReadings == 0 {
		return 0
	}
	return float64(r.FalseFlags) / float64(r.CleanReadings)
}

// Evaluate scores detections against the series' labels: flags[i][j] is the set of fault
// types the detector gave sample j of series i (nil for a missing sample).
func Evaluate(series []Series, flags [][][]Fault) Report {
	by := map[Fault]*Score{}
	for _, f := range Faults {
		by[f] = &Score{Fault: f}
	}
	var rep Report
	for i, s := range series {
		near := make([]bool, len(s.Samples))
		for _, e := range s.Episodes {
			by[e.Fault].Episodes++
			for j := e.From; j < min(e.To+Grace, len(near)); j++ {
				near[j] = true
			}
		}
		for j, fs := range flags[i] {
			if s.Samples[j].Missing || near[j] {
				continue
			}
			rep.CleanReadings++
			if len(fs) > 0 {
				rep.FalseFlags++
			}
		}
		for _, f := range Faults {
			scoreType(by[f], s, flags[i], f)
		}
	}
	for _, f := range Faults {
		sc := by[f]
		finish(sc)
		rep.Types = append(rep.Types, *sc)
		o := &rep.Overall
		o.Episodes += sc.Episodes
		o.Found += sc.Found
		o.Detections += sc.Detections
		o.True += sc.True
		o.Delays = append(o.Delays, sc.Delays...)
	}
	finish(&rep.Overall)
	return rep
}

func scoreType(sc *Score, s Series, flags [][]Fault, f Fault) {
	has := func(j int) bool {
		for _, g := range flags[j] {
			if g == f {
				return true
			}
		}
		return false
	}
	// Detections: runs of flagged readings.
	type run struct{ from, to int }
	var runs []run
	last := -Merge - 1
	for j := range flags {
		if !has(j) {
			continue
		}
		if j-last > Merge || len(runs) == 0 {
			runs = append(runs, run{j, j + 1})
		} else {
			runs[len(runs)-1].to = j + 1
		}
		last = j
	}
	sc.Detections += len(runs)
	for _, r := range runs {
		for _, e := range s.Episodes {
			if e.Fault == f && r.from < e.To+Grace && e.From < r.to {
				sc.True++
				break
			}
		}
	}
	for _, e := range s.Episodes {
		if e.Fault != f {
			continue
		}
		// The delay counts from the first reading a detector could see: for a dropout, the
		// first after the gap.
		seen := e.From
		for seen < len(s.Samples) && s.Samples[seen].Missing {
			seen++
		}
		for j := e.From; j < min(e.To+Grace, len(flags)); j++ {
			if has(j) {
				sc.Found++
				sc.Delays = append(sc.Delays, max(0, j-seen))
				break
			}
		}
	}
}

func finish(sc *Score) {
	if sc.Detections > 0 {
		sc.Precision = float64(sc.True) / float64(sc.Detections)
	}
	if sc.Episodes > 0 {
		sc.Recall = float64(sc.Found) / float64(sc.Episodes)
	}
	if sc.Precision+sc.Recall > 0 {
		sc.F1 = 2 * sc.Precision * sc.Recall / (sc.Precision + sc.Recall)
	}
	sort.Ints(sc.Delays)
}

// Delay is the q-quantile of the readings to detect (-1 when none was found).
func (s Score) Delay(q float64) int {
	if len(s.Delays) == 0 {
		return -1
	}
	return s.Delays[int(q*float64(len(s.Delays)-1))]
}
