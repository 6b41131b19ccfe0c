package evaluate

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRunAcceptsNABTimestampsInZone(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("ts,v,label\n")
	start := time.Date(2013, 12, 2, 21, 15, 0, 0, time.UTC)
	for i := range 50 {
		ts := start.Add(time.Duration(i) * 5 * time.Minute).Format("2006-01-02 15:04:05")
		if i%2 == 1 {
			ts += ".250" // fractional seconds allowed
		}
		b.WriteString(ts + ",40.0,\n")
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	o := opts()
	o.Location = berlin
	rows, _, err := read(strings.NewReader(b.String()), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 50 {
		t.Fatalf("rows %d", len(rows))
	}
	want := time.Date(2013, 12, 2, 21, 15, 0, 0, berlin)
	if !rows[0].t.Equal(want) || rows[0].t.Equal(start) {
		t.Fatalf("first time %v, want %v (Berlin, not UTC)", rows[0].t, want)
	}
	if got := rows[1].t.Sub(rows[0].t); got != 5*time.Minute+250*time.Millisecond {
		t.Fatalf("fraction lost: step %v", got)
	}
	rep, err := Run(strings.NewReader(b.String()), o)
	if err != nil || rep.Rows != 50 {
		t.Fatalf("run: %v rows %d", err, rep.Rows)
	}
}

func TestRunRejectsOutOfOrderWithRows(t *testing.T) {
	t.Parallel()
	in := "ts,v\n" +
		"2013-12-02 21:15:00,1\n" + // row 2
		"2013-12-02 21:20:00,1\n" + // row 3
		"2013-12-02 21:20:00,1\n" + // row 4: repeat of row 3
		"2013-12-02 21:10:00,1\n" + // row 5: back from row 3
		"2013-12-02 21:25:00,1\n"
	_, err := Run(strings.NewReader(in), opts())
	var oe *OrderError
	if !errors.As(err, &oe) {
		t.Fatalf("err %v, want OrderError", err)
	}
	if oe.Total != 2 || !strings.Contains(err.Error(), "row 4") || !strings.Contains(err.Error(), "repeats row 3") ||
		!strings.Contains(err.Error(), "row 5") || !strings.Contains(err.Error(), "goes back from row 3") {
		t.Fatalf("error %q", err)
	}
}

func TestRunNamesRowAndColumn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"bad time", "ts,v\n2013-12-02 21:15:00,1\n02/12/2013 21:20,1\n", `row 3, column "ts": timestamp "02/12/2013 21:20"`},
		{"bad value", "ts,v\n2013-12-02 21:15:00,1\n2013-12-02 21:20:00,abc\n", `row 3, column "v": value "abc" is not a number`},
		{"short row", "ts,v\n2013-12-02 21:15:00,1\n2013-12-02 21:20:00\n", `row 3, column "v": missing`},
		{"missing label", "ts,v,label\n2013-12-02 21:15:00,1,\n2013-12-02 21:20:00,2\n", `row 3, column "label": missing`},
		{"bad header", "time,value\n1,2\n", `lacks "ts" or "v"`},
		{"one row", "ts,v\n2013-12-02 21:15:00,1\n", "cannot infer the sampling interval"},
	} {
		_, err := Run(strings.NewReader(c.in), opts())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestRunEmptyValueIsMissingReading(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("ts,v\n")
	for i := range 40 {
		v := fmt.Sprint(40 + i%3)
		if i == 30 {
			v = ""
		}
		b.WriteString(time.Unix(int64(1_700_000_000+60*i), 0).UTC().Format(time.RFC3339) + "," + v + "\n")
	}
	rep, err := Run(strings.NewReader(b.String()), opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Flagged {
		if p.Time.Unix() == 1_700_000_000+60*30 {
			if !math.IsNaN(p.Value) || p.Flags == 0 {
				t.Fatalf("empty value read as %+v", p)
			}
			return
		}
	}
	t.Fatalf("the empty value was not flagged: %+v", rep.Flagged)
}
