package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeSeries writes a NAB-style CSV: level 10 with a little wobble, dropping to 4 from row
// drop on, and its windows file.
func writeSeries(t *testing.T, dir string, n, drop int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	start := time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v := 10 + 0.1*float64(i%7-3)
		if i >= drop {
			v -= 6
		}
		fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format(layout), v)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data", "realKnownCause"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "realKnownCause", "x.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	from := start.Add(time.Duration(drop-10)*5*time.Minute).Format(layout) + ".000000"
	to := start.Add(time.Duration(drop+50)*5*time.Minute).Format(layout) + ".000000"
	win := fmt.Sprintf(`{"realKnownCause/x.csv": [["%s", "%s"]]}`, from, to)
	if err := os.WriteFile(filepath.Join(dir, "windows.json"), []byte(win), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunScoresADropAndLabelsItsWindow(t *testing.T) {
	dir := t.TempDir()
	writeSeries(t, dir, 1200, 900)
	out := filepath.Join(dir, "out")
	if err := run(filepath.Join(dir, "data"), filepath.Join(dir, "windows.json"), out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "realKnownCause", "meshwork_x.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1201 || strings.Join(recs[0], ",") != "timestamp,value,anomaly_score,label" {
		t.Fatalf("%d rows, header %v", len(recs), recs[0])
	}
	best, labelled := 0.0, 0
	for i, r := range recs[1:] {
		s, _ := strconv.ParseFloat(r[2], 64)
		if i >= 900 && i < 950 {
			best = max(best, s)
		}
		if r[3] == "1" {
			labelled++
		}
	}
	if best < 0.5 {
		t.Errorf("the drop scores at most %v, want ≥ 0.5", best)
	}
	if labelled != 61 {
		t.Errorf("%d rows labelled, want the window's 61", labelled)
	}
}

func TestRunRejectsBadRows(t *testing.T) {
	dir := t.TempDir()
	writeSeries(t, dir, 10, 5)
	p := filepath.Join(dir, "data", "realKnownCause", "x.csv")
	raw, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(raw), ",10.", ",ten", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(filepath.Join(dir, "data"), filepath.Join(dir, "windows.json"), filepath.Join(dir, "out"))
	if err == nil || !strings.Contains(err.Error(), `column "value"`) {
		t.Fatalf("error %v, want one naming the value column", err)
	}
	if err := run(filepath.Join(dir, "nothing"), filepath.Join(dir, "windows.json"), dir); err == nil {
		t.Fatal("a missing data directory gave no error")
	}
}

// TestHealthDetectorScoresThePublishedHealth: --detector health writes meshworkHealth files
// scoring 1 where the service's health leaves OK (the drop, after the 1000 readings health
// calibrates on) and 0 everywhere else.
func TestHealthDetectorScoresThePublishedHealth(t *testing.T) {
	dir := t.TempDir()
	writeSeries(t, dir, 2000, 1500)
	out := filepath.Join(dir, "out")
	detector = "health"
	defer func() { detector = "change" }()
	if err := run(filepath.Join(dir, "data"), filepath.Join(dir, "windows.json"), out); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "realKnownCause", "meshworkHealth_x.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ones []int
	for i, r := range recs[1:] {
		switch r[2] {
		case "1.000000":
			ones = append(ones, i)
		case "0.000000":
		default:
			t.Fatalf("row %d scores %s, want 0 or 1", i+2, r[2])
		}
	}
	if len(ones) != 1 || ones[0] < 1500 || ones[0] >= 1550 {
		t.Errorf("health left OK at readings %v, want once, within 50 readings of the drop at 1500", ones)
	}
}
