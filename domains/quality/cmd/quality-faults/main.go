// Command quality-faults judges the quality filters on series from package faultgen (the
// published fault taxonomy, independent of quality-sim) and prints, per fault type, the
// episode-level precision, recall and F1, the readings to detect, and the false-flag rate on
// clean readings (docs/benchmarks.md). faultgen's machines never fail — only their sensors
// do — so it also prints the machine health the service would publish (every non-OK status is
// a false alarm) beside what package change, the detector scored on NAB, reports on the same
// clean readings of the temperature and vibration sensors:
//
//	go run ./cmd/quality-faults --seeds 1,2,3
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"meshwork.dev/domains/quality/change"
	"meshwork.dev/domains/quality/faultgen"
	"meshwork.dev/domains/quality/readings"
)

func main() {
	seeds := flag.String("seeds", "1,2,3", "comma-separated generator seeds")
	machines := flag.Int("machines", faultgen.Default.Machines, "machines per seed (four sensors each)")
	flag.Parse()
	if err := run(os.Stdout, *seeds, *machines); err != nil {
		fmt.Fprintln(os.Stderr, "quality-faults:", err)
		os.Exit(2)
	}
}

func run(w io.Writer, seedList string, machines int) error {
	if machines < 1 {
		return fmt.Errorf("--machines %d: want at least 1", machines)
	}
	cfg := faultgen.Default
	cfg.Machines = machines
	var all []faultgen.Series
	var flags [][][]faultgen.Fault
	var health Alarms
	for _, f := range strings.Split(seedList, ",") {
		seed, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return fmt.Errorf("--seeds: %q is not a seed (want non-negative integers)", f)
		}
		series := faultgen.Generate(cfg, seed)
		fl, h, err := Detect(series, cfg.Machines)
		if err != nil {
			return err
		}
		health.add(h)
		all = append(all, series...)
		flags = append(flags, fl...)
	}
	rep := faultgen.Evaluate(all, flags)
	fmt.Fprintln(w, "| fault | episodes | found | detections | precision | recall | F1 | readings to detect (median / p90) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, s := range append(rep.Types, rep.Overall) {
		name := string(s.Fault)
		if name == "" {
			name = "all"
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.2f | %.2f | %.2f | %d / %d |\n", name, s.Episodes, s.Found, s.Detections,
			s.Precision, s.Recall, s.F1, s.Delay(0.5), s.Delay(0.9))
	}
	fmt.Fprintf(w, "\nfalse flags on clean readings: %d of %d (%.3f %%)\n", rep.FalseFlags, rep.CleanReadings, 100*rep.FalseFlagRate())
	fmt.Fprintf(w, "\nmachine health on machines that never fail (%d machine-weeks): %s\n", health.Machines, health)
	return nil
}

// Alarms counts false machine-level alarms: health events of the service's assessment by
// status, the readings spent off OK, and package change's events (Up or Down) on the clean
// readings of temperature and vibration sensors, with those a temperature and a vibration
// sensor of one machine gave within change.Default.Refractory readings of each other (what
// would make CRITICAL if change drove health).
type Alarms struct {
	Machines               int
	Warn, Critical, Unconf int
	OffOK, Steps           int
	Change, ChangeTogether int
}

func (a *Alarms) add(b Alarms) {
	a.Machines += b.Machines
	a.Warn, a.Critical, a.Unconf = a.Warn+b.Warn, a.Critical+b.Critical, a.Unconf+b.Unconf
	a.OffOK, a.Steps = a.OffOK+b.OffOK, a.Steps+b.Steps
	a.Change, a.ChangeTogether = a.Change+b.Change, a.ChangeTogether+b.ChangeTogether
}

func (a Alarms) String() string {
	off := 0.0
	if a.Steps > 0 {
		off = 100 * float64(a.OffOK) / float64(a.Steps)
	}
	return fmt.Sprintf("WARN %d, ANOMALOUS_UNCONFIRMED %d, CRITICAL %d, %.2f %% of the time off OK; "+
		"change on the clean readings: %d events, %d with temperature and vibration together",
		a.Warn, a.Unconf, a.Critical, off, a.Change, a.ChangeTogether)
}

// ranges are the physical ranges declared for each kind.
var ranges = map[string][2]float64{
	"temperature": {-20, 150}, "vibration": {0, 50}, "current": {0, 100}, "pressure": {0, 25},
}

// Detect runs every series through the quality filters, one readings.Machine per machine
// (its four sensors processed in time order), names each reading's flags as fault types, and
// counts the machine-level alarms.
func Detect(series []faultgen.Series, machines int) ([][][]faultgen.Fault, Alarms, error) {
	out := make([][][]faultgen.Fault, len(series))
	per := len(series) / machines
	al := Alarms{Machines: machines}
	for m := range machines {
		group := series[m*per : (m+1)*per]
		mach := readings.NewMachine(fmt.Sprintf("m%d", m), readings.DefaultHealth)
		for _, s := range group {
			k := readings.Kind(s.Profile.Kind)
			r := ranges[s.Profile.Kind]
			mach.AddSensor(readings.Spec{ID: s.Sensor, Machine: mach.ID, Kind: k, Min: r[0], Max: r[1],
				Interval: s.Interval, Resolution: s.Profile.Resolution}, readings.DefaultConfig(k))
		}
		watch := newChangeWatch(group)
		for j := range group[0].Samples {
			for gi, s := range group {
				i := m*per + gi
				if out[i] == nil {
					out[i] = make([][]faultgen.Fault, len(s.Samples))
				}
				x := s.Samples[j]
				if x.Missing {
					continue
				}
				res, err := mach.Process(readings.Reading{Sensor: s.Sensor, Time: x.Time.UnixNano(), Value: x.Value})
				if err != nil {
					return nil, Alarms{}, err
				}
				out[i][j] = types(res.Flags)
				if h := res.Health; h != nil {
					switch h.Status {
					case readings.Warn:
						al.Warn++
					case readings.Critical:
						al.Critical++
					case readings.Unconfirmed:
						al.Unconf++
					}
				}
				if res.Flags == 0 && !res.Faulty {
					watch.observe(&al, s, j, x.Value)
				}
			}
			al.Steps++
			if mach.Status != readings.OK {
				al.OffOK++
			}
		}
	}
	return out, al, nil
}

// changeWatch runs package change on one machine's clean temperature and vibration readings.
type changeWatch struct {
	det  map[string]*change.Detector
	last map[string]int // the reading of each kind's last event
}

func newChangeWatch(group []faultgen.Series) *changeWatch {
	w := &changeWatch{det: map[string]*change.Detector{}, last: map[string]int{}}
	for _, s := range group {
		if s.Profile.Kind == "temperature" || s.Profile.Kind == "vibration" {
			w.det[s.Sensor] = change.New(change.Default)
			w.last[s.Profile.Kind] = -1 << 30
		}
	}
	return w
}

func (w *changeWatch) observe(al *Alarms, s faultgen.Series, j int, v float64) {
	d, ok := w.det[s.Sensor]
	if !ok {
		return
	}
	if r := d.Observe(v); r.Up || r.Down {
		al.Change++
		other := map[string]string{"temperature": "vibration", "vibration": "temperature"}[s.Profile.Kind]
		if j-w.last[other] < change.Default.Refractory {
			al.ChangeTogether++
		}
		w.last[s.Profile.Kind] = j
	}
}

func types(f readings.Flag) []faultgen.Fault {
	var out []faultgen.Fault
	if f&(readings.Spike|readings.RateOfChange|readings.OutOfRange) != 0 {
		out = append(out, faultgen.Spike)
	}
	if f&readings.Stuck != 0 {
		out = append(out, faultgen.Stuck)
	}
	if f&readings.Drift != 0 {
		out = append(out, faultgen.Drift)
	}
	if f&readings.Noise != 0 {
		out = append(out, faultgen.Noise)
	}
	if f&readings.Dropout != 0 {
		out = append(out, faultgen.Dropout)
	}
	return out
}
