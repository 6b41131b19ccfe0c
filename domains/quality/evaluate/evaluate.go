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
	"slices"
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
	// Location is the time zone of timestamps written without an offset
	// (YYYY-MM-DD HH:MM:SS[.fff]); nil means UTC.
	Location *time.Location
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
	// Declared scores the sensor's fault declarations instead of the per-reading flags: a
	// reading counts as flagged while the detector holds the sensor faulty.
	Declared Score
	// ByLabel scores each label value (fault type) on its own: TP and FN are that type's
	// readings caught or missed by the per-reading flags; FP is not kept per type.
	ByLabel map[string]*Score
}

// Score counts true positives, false positives and false negatives.
type Score struct {
	TP, FP, FN int
}

// Precision is TP/(TP+FP).
func (s Score) Precision() float64 { return ratio(s.TP, s.TP+s.FP) }

// Recall is TP/(TP+FN).
func (s Score) Recall() float64 { return ratio(s.TP, s.TP+s.FN) }

// F1 is the harmonic mean of precision and recall.
func (s Score) F1() float64 {
	p, q := s.Precision(), s.Recall()
	if p+q == 0 {
		return 0
	}
	return 2 * p * q / (p + q)
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

// RowError names the CSV row (the header is row 1, as a spreadsheet counts) and column of
// something Run could not read.
type RowError struct {
	Row    int
	Column string
	Msg    string
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Msg)
	}
	return fmt.Sprintf("row %d, column %q: %s", e.Row, e.Column, e.Msg)
}

// OrderError lists the rows whose timestamps repeat or go backwards; the readings of one
// sensor must be in strictly increasing time.
type OrderError struct {
	// Rows are "row N: ..." descriptions, at most maxOrderErrors of them; Total counts all.
	Rows  []string
	Total int
}

const maxOrderErrors = 10

func (e *OrderError) Error() string {
	more := ""
	if e.Total > len(e.Rows) {
		more = fmt.Sprintf("; and %d more", e.Total-len(e.Rows))
	}
	return fmt.Sprintf("%d timestamps out of order: %s%s", e.Total, strings.Join(e.Rows, "; "), more)
}

type row struct {
	n     int // CSV row number, header = 1
	t     time.Time
	v     float64
	label string
}

// Run reads the CSV from in and filters it. It rejects the whole file, naming the rows, if
// any timestamp repeats or goes backwards, and names the row and column of any timestamp
// or value it cannot parse (an empty value is a missing reading, not an error).
func Run(in io.Reader, o Options) (Report, error) {
	const op = "evaluate.Run"
	rows, labelled, err := read(in, o)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", op, err)
	}
	rep := Report{Labelled: labelled, ByLabel: map[string]*Score{}}
	if len(rows) == 0 {
		return rep, nil
	}
	if o.Spec.Interval == 0 {
		o.Spec.Interval = medianStep(rows)
		if o.Spec.Interval <= 0 {
			return rep, fmt.Errorf("%s: cannot infer the sampling interval from one reading; pass --interval", op)
		}
	}
	f := readings.NewFilter(o.Spec, o.Config)
	var det readings.Detector
	for _, r := range rows {
		rep.add(f, &det, r)
	}
	return rep, nil
}

// read parses and orders the rows.
func read(in io.Reader, o Options) ([]row, bool, error) {
	cr := csv.NewReader(in)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, false, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	ti, okT := col[o.TimeColumn]
	vi, okV := col[o.ValueColumn]
	if !okT || !okV {
		return nil, false, fmt.Errorf("header %v lacks %q or %q", head, o.TimeColumn, o.ValueColumn)
	}
	li, labelled := col[o.LabelColumn]
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	var rows []row
	order := &OrderError{}
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false, &RowError{Row: n, Msg: err.Error()}
		}
		for _, c := range []struct {
			i    int
			name string
			need bool
		}{{ti, o.TimeColumn, true}, {vi, o.ValueColumn, true}, {li, o.LabelColumn, labelled}} {
			if c.need && c.i >= len(rec) {
				return nil, false, &RowError{Row: n, Column: c.name, Msg: fmt.Sprintf("missing: the row has %d fields", len(rec))}
			}
		}
		t, err := parseTime(rec[ti], loc)
		if err != nil {
			return nil, false, &RowError{Row: n, Column: o.TimeColumn, Msg: err.Error()}
		}
		v := math.NaN() // an empty value is a missing reading
		if s := strings.TrimSpace(rec[vi]); s != "" {
			if v, err = strconv.ParseFloat(s, 64); err != nil {
				return nil, false, &RowError{Row: n, Column: o.ValueColumn, Msg: fmt.Sprintf("value %q is not a number", s)}
			}
		}
		r := row{n: n, t: t, v: v}
		if labelled {
			r.label = strings.TrimSpace(rec[li])
		}
		if len(rows) > 0 {
			prev := rows[len(rows)-1]
			if !t.After(prev.t) {
				what := "repeats"
				if t.Before(prev.t) {
					what = "goes back from"
				}
				order.Total++
				if len(order.Rows) < maxOrderErrors {
					order.Rows = append(order.Rows, fmt.Sprintf("row %d (%s) %s row %d (%s)", n,
						strings.TrimSpace(rec[ti]), what, prev.n, prev.t.Format(time.RFC3339Nano)))
				}
				continue
			}
		}
		rows = append(rows, r)
	}
	if order.Total > 0 {
		return nil, false, order
	}
	return rows, labelled, nil
}

// medianStep is the median gap between consecutive timestamps (0 for fewer than two rows).
func medianStep(rows []row) time.Duration {
	if len(rows) < 2 {
		return 0
	}
	steps := make([]time.Duration, 0, len(rows)-1)
	for i := 1; i < len(rows); i++ {
		steps = append(steps, rows[i].t.Sub(rows[i-1].t))
	}
	slices.Sort(steps)
	return steps[len(steps)/2]
}

func positive(label string) bool {
	return label != "" && label != "0" && !strings.EqualFold(label, "false") && !strings.EqualFold(label, "normal")
}

func (rep *Report) add(f *readings.Filter, det *readings.Detector, r row) {
	flags, use := f.Check(readings.Reading{Time: r.t.UnixNano(), Value: r.v})
	det.Observe(r.t.UnixNano(), flags)
	pos := positive(r.label)
	rep.Rows++
	if flags != 0 {
		rep.Flagged = append(rep.Flagged, Point{Time: r.t, Value: r.v, Use: use, Flags: flags, Label: r.label})
	}
	if !rep.Labelled {
		return
	}
	switch {
	case flags != 0 && pos:
		rep.TruePositives++
	case flags != 0:
		rep.FalsePositives++
	case pos:
		rep.FalseNegatives++
	}
	switch {
	case det.Faulty && pos:
		rep.Declared.TP++
	case det.Faulty:
		rep.Declared.FP++
	case pos:
		rep.Declared.FN++
	}
	if pos {
		s := rep.ByLabel[r.label]
		if s == nil {
			s = &Score{}
			rep.ByLabel[r.label] = s
		}
		if flags != 0 {
			s.TP++
		} else {
			s.FN++
		}
	}
}

// parseTime accepts RFC 3339, YYYY-MM-DD HH:MM:SS[.fff] (or with a T, no offset) in loc,
// or Unix seconds (fractions allowed).
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	sec, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339, YYYY-MM-DD HH:MM:SS[.fff] or Unix seconds", s)
	}
	return time.Unix(0, int64(sec*1e9)).UTC(), nil
}
