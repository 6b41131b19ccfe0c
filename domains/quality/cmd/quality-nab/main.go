// Command quality-nab runs the quality domain's health detector (package change, with its
// Default parameters for every series) over the Numenta Anomaly Benchmark corpus and writes
// NAB's results format, so that NAB's own scorer can score it (scripts/nab.sh):
//
//	quality-nab --data .bench/nab/data --windows .bench/nab/labels/combined_windows.json \
//	            --out .bench/nab/results/meshwork
//
// Each output file is <out>/<category>/meshwork_<name>.csv with the columns timestamp, value,
// anomaly_score and label (1 inside a labelled window).
package main

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"meshwork.dev/domains/quality/change"
)

const layout = "2006-01-02 15:04:05"

// params is the one parameter set used for every series of the corpus.
var params = change.Default

func main() {
	data := flag.String("data", ".bench/nab/data", "NAB data directory")
	windows := flag.String("windows", ".bench/nab/labels/combined_windows.json", "NAB windows file")
	out := flag.String("out", ".bench/nab/results/meshwork", "results directory for this detector")
	p := change.Default
	flag.IntVar(&p.Baseline, "baseline", p.Baseline, "readings the baseline average spans")
	flag.IntVar(&p.Warmup, "warmup", p.Warmup, "readings that learn the baseline before any score")
	flag.Float64Var(&p.Slack, "slack", p.Slack, "CUSUM allowance, in scales")
	flag.Float64Var(&p.Alarm, "alarm", p.Alarm, "CUSUM threshold, in scales")
	flag.Float64Var(&p.Spike, "spike", p.Spike, "single-reading residual that is an event, in scales")
	flag.IntVar(&p.Refractory, "refractory", p.Refractory, "readings without a score after an event")
	flag.Parse()
	if err := p.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "quality-nab:", err)
		os.Exit(2)
	}
	params = p
	if err := run(*data, *windows, *out); err != nil {
		fmt.Fprintln(os.Stderr, "quality-nab:", err)
		os.Exit(1)
	}
}

func run(data, windowsFile, out string) error {
	raw, err := os.ReadFile(windowsFile)
	if err != nil {
		return err
	}
	var windows map[string][][2]string
	if err := json.Unmarshal(raw, &windows); err != nil {
		return fmt.Errorf("%s: %w", windowsFile, err)
	}
	n := 0
	err = filepath.WalkDir(data, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".csv") {
			return err
		}
		rel, _ := filepath.Rel(data, path)
		n++
		return series(path, filepath.ToSlash(rel), windows[filepath.ToSlash(rel)], out)
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("no CSV files under %s", data)
	}
	return err
}

func series(path, rel string, wins [][2]string, out string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	type span struct{ from, to time.Time }
	var spans []span
	for i, w := range wins {
		a, err1 := time.Parse(layout+".999999", w[0])
		b, err2 := time.Parse(layout+".999999", w[1])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("windows for %s: window %d: cannot parse %q..%q", rel, i, w[0], w[1])
		}
		spans = append(spans, span{a, b})
	}
	dir, name := filepath.Split(rel)
	if err := os.MkdirAll(filepath.Join(out, dir), 0o755); err != nil {
		return err
	}
	o, err := os.Create(filepath.Join(out, dir, "meshwork_"+name))
	if err != nil {
		return err
	}
	w := csv.NewWriter(o)
	_ = w.Write([]string{"timestamp", "value", "anomaly_score", "label"})
	d := change.New(params)
	for i, r := range recs[1:] {
		if len(r) < 2 {
			o.Close()
			return fmt.Errorf("%s: row %d: want timestamp,value", rel, i+2)
		}
		t, err := time.Parse(layout, r[0])
		if err != nil {
			o.Close()
			return fmt.Errorf("%s: row %d, column \"timestamp\": %w", rel, i+2, err)
		}
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			o.Close()
			return fmt.Errorf("%s: row %d, column \"value\": %w", rel, i+2, err)
		}
		label := "0"
		for _, s := range spans {
			if !t.Before(s.from) && !t.After(s.to) {
				label = "1"
			}
		}
		_ = w.Write([]string{r[0], r[1], strconv.FormatFloat(d.Observe(v).Score, 'f', 6, 64), label})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}
