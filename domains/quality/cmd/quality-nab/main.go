// Command quality-nab runs a quality health detector over the Numenta Anomaly Benchmark corpus
// and writes NAB's results format, so that NAB's own scorer can score it (scripts/nab.sh):
//
//	quality-nab --data .bench/nab/data --windows .bench/nab/labels/combined_windows.json \
//	            --out .bench/nab/results/meshwork [--detector change|health]
//
// --detector change (the default, NAB detector name "meshwork") is package change with its
// Default parameters for every series: its score per reading. --detector health (NAB name
// "meshworkHealth") is the health the service publishes: each series is one temperature
// sensor of a readings.Machine (temperature defaults without the checks in physical units —
// no physical range, no rate of change — the interval the series' timestamps show,
// readings.DefaultHealth), and a reading scores 1 when the machine's health leaves OK — an
// incident starts — and 0 otherwise: a change between the other statuses (WARN to
// ANOMALOUS_UNCONFIRMED and back) is the same incident, as scheduling books it. A machine of
// one sensor has no load sensor, so its health is the CUSUM on the value itself against its
// own slow baseline (readings.Load).
//
// Each output file is <out>/<category>/<detector name>_<name>.csv with the columns timestamp,
// value, anomaly_score and label (1 inside a labelled window).
package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"meshwork.dev/domains/quality/change"
	"meshwork.dev/domains/quality/readings"
)

const layout = "2006-01-02 15:04:05"

// params is the one parameter set used for every series of the corpus.
var params = change.Default

// detector is "change" or "health" (see the command's doc).
var detector = "change"

// names are NAB's detector names, the prefix of every results file.
var names = map[string]string{"change": "meshwork", "health": "meshworkHealth"}

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
	flag.StringVar(&detector, "detector", detector, "change (package change) or health (the service's published health)")
	flag.Parse()
	if _, ok := names[detector]; !ok {
		fmt.Fprintf(os.Stderr, "quality-nab: --detector %q: want change or health\n", detector)
		os.Exit(2)
	}
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
	times := make([]time.Time, 0, len(recs))
	values := make([]float64, 0, len(recs))
	for i, r := range recs[1:] {
		if len(r) < 2 {
			return fmt.Errorf("%s: row %d: want timestamp,value", rel, i+2)
		}
		t, err := time.Parse(layout, r[0])
		if err != nil {
			return fmt.Errorf("%s: row %d, column \"timestamp\": %w", rel, i+2, err)
		}
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			return fmt.Errorf("%s: row %d, column \"value\": %w", rel, i+2, err)
		}
		times, values = append(times, t), append(values, v)
	}
	score, err := scorer(detector, times)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	o, err := os.Create(filepath.Join(out, dir, names[detector]+"_"+name))
	if err != nil {
		return err
	}
	w := csv.NewWriter(o)
	_ = w.Write([]string{"timestamp", "value", "anomaly_score", "label"})
	for i, r := range recs[1:] {
		label := "0"
		for _, s := range spans {
			if !times[i].Before(s.from) && !times[i].After(s.to) {
				label = "1"
			}
		}
		sc, err := score(times[i], values[i])
		if err != nil {
			o.Close()
			return fmt.Errorf("%s: row %d: %w", rel, i+2, err)
		}
		_ = w.Write([]string{r[0], r[1], strconv.FormatFloat(sc, 'f', 6, 64), label})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

// scorer returns the per-reading anomaly score of the detector named d for a series sampled
// at times.
func scorer(d string, times []time.Time) (func(time.Time, float64) (float64, error), error) {
	if d == "change" {
		c := change.New(params)
		return func(_ time.Time, v float64) (float64, error) { return c.Observe(v).Score, nil }, nil
	}
	iv := interval(times)
	if iv <= 0 {
		return nil, errors.New("cannot tell the sampling interval: fewer than two distinct timestamps")
	}
	m := readings.NewMachine("nab", readings.DefaultHealth)
	m.AddSensor(readings.Spec{ID: "s", Machine: "nab", Kind: readings.Temperature, Interval: iv}, unitFree())
	was := readings.OK
	return func(t time.Time, v float64) (float64, error) {
		res, err := m.Process(readings.Reading{Sensor: "s", Time: t.UnixNano(), Value: v})
		if err != nil || res.Health == nil {
			return 0, err
		}
		// An incident starts when health leaves OK; a change between the other statuses
		// (WARN to ANOMALOUS_UNCONFIRMED and back) is the same incident, not a new detection.
		start := was == readings.OK && res.Health.Status != readings.OK
		was = res.Health.Status
		if start {
			return 1, nil
		}
		return 0, nil
	}, nil
}

// unitFree is the temperature config without its checks in physical units that a NAB series,
// of unknown units, cannot be held to: the physical range (none is declared) and the rate of
// change (0.1 °C/s). Spikes, stuck values, noise and dropouts are judged against the series'
// own statistics and stay on.
func unitFree() readings.Config {
	c := readings.DefaultConfig(readings.Temperature)
	c.MaxRate = 0
	return c
}

// interval is the median step between the first 101 timestamps (0 when none is positive).
func interval(times []time.Time) time.Duration {
	var d []time.Duration
	for i := 1; i < len(times) && len(d) < 100; i++ {
		if s := times[i].Sub(times[i-1]); s > 0 {
			d = append(d, s)
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
