// Package evaluate runs the readings filters offline on a CSV of one sensor's readings
// (timestamp,value[,label], column names configurable) and scores the flagged points against
// the labels: a point is positive when its label is non-empty and not 0, false or normal.
package evaluate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"meshwork.dev/domains/quality/readings"
)

// Options say how to read the CSV and which sensor it is.
type Options struct {
	// TimeColumn, ValueColumn and LabelColumn name the columns (LabelColumn may be absent).
	TimeColumn, ValueColumn, LabelColumn string
	// Spec is the sensor; a zero Interval is taken from the first two rows.
	Spec readings.Spec
	// Config tunes the checks.
	Config readings.Config
}

// Point is one flagged or labelled reading.
type Point struct {
	// Time is the sample time; Value the raw value and Use the value to use.
	Time       time.Time
	Value, Use float64
	// Flags are the checks it failed; Label its ground truth ("" when none).
	Flags readings.Flag
	Label string
}

// Report is the outcome of a run.
type Report struct {
	// Rows is how many readings were checked; Flagged lists the flagged points.
	Rows    int
	Flagged []Point
	// Labelled says whether the CSV had the label column; the counts then score it.
	Labelled                                      bool
	TruePositives, FalsePositives, FalseNegatives int
}

// Precision is TP/(TP+FP).
func (r Report) Precision() float64 { return ratio(r.TruePositives, r.TruePositives+r.FalsePositives) }

// Recall is TP/(TP+FN).
func (r Report) Recall() float64 { return ratio(r.TruePositives, r.TruePositives+r.FalseNegatives) }

// F1 is the harmonic mean of precision and recall.
func (r Report) F1() float64 {
	p, q := r.Precision(), r.Recall()
	if p+q == 0 {
		return 0
	}
	return 2 * p * q / (p + q)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Run reads the CSV from in and filters it.
func Run(in io.Reader, o Options) (Report, error) {
	const op = "evaluate.Run"
	cr := csv.NewReader(in)
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return Report{}, fmt.Errorf("%s: header: %w", op, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	ti, okT := col[o.TimeColumn]
	vi, okV := col[o.ValueColumn]
	if !okT || !okV {
		return Report{}, fmt.Errorf("%s: header %v lacks %q or %q", op, head, o.TimeColumn, o.ValueColumn)
	}
	li, labelled := col[o.LabelColumn]
	rep := Report{Labelled: labelled}
	var f *readings.Filter
	var det readings.Detector
	var pending []string // first row kept until the interval is known
	var first []string
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("%s: line %d: %w", op, line, err)
		}
		if f == nil {
			if first == nil && o.Spec.Interval == 0 {
				first = row
				continue
			}
			if first != nil {
				t0, err0 := parseTime(first[ti])
				t1, err1 := parseTime(row[ti])
				if err0 != nil || err1 != nil || !t1.After(t0) {
					return rep, fmt.Errorf("%s: line %d: cannot infer the interval from the first two timestamps", op, line)
				}
				o.Spec.Interval = t1.Sub(t0)
				pending = first
			}
			f = readings.NewFilter(o.Spec, o.Config)
		}
		for _, r := range [][]string{pending, row} {
			if r == nil {
				continue
			}
			if err := rep.add(f, &det, r, ti, vi, li, labelled); err != nil {
				return rep, fmt.Errorf("%s: line %d: %w", op, line, err)
			}
		}
		pending = nil
	}
	return rep, nil
}

func (rep *Report) add(f *readings.Filter, det *readings.Detector, row []string, ti, vi, li int, labelled bool) error {
	if max(ti, vi) >= len(row) || (labelled && li >= len(row)) {
		return fmt.Errorf("short row %v", row)
	}
	t, err := parseTime(row[ti])
	if err != nil {
		return err
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(row[vi]), 64)
	if err != nil {
		v = math.NaN() // an unreadable value is a reading out of range, not a crash
	}
	flags, use := f.Check(readings.Reading{Time: t.UnixNano(), Value: v})
	det.Observe(t.UnixNano(), flags)
	label := ""
	if labelled {
		label = strings.TrimSpace(row[li])
	}
	positive := label != "" && label != "0" && !strings.EqualFold(label, "false") && !strings.EqualFold(label, "normal")
	rep.Rows++
	if flags != 0 || positive {
		if flags != 0 {
			rep.Flagged = append(rep.Flagged, Point{Time: t, Value: v, Use: use, Flags: flags, Label: label})
		}
		switch {
		case !labelled:
		case flags != 0 && positive:
			rep.TruePositives++
		case flags != 0:
			rep.FalsePositives++
		default:
			rep.FalseNegatives++
		}
	}
	return nil
}

// parseTime accepts RFC 3339 or Unix seconds (fractions allowed).
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	sec, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is neither RFC 3339 nor Unix seconds", s)
	}
	return time.Unix(0, int64(sec*1e9)).UTC(), nil
}
