// Command quality-faults judges the quality filters on series from package faultgen (the
// published fault taxonomy, independent of quality-sim) and prints, per fault type, the
// episode-level precision, recall and F1, the readings to detect, and the false-flag rate on
// clean readings (docs/benchmarks.md):
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
	for _, f := range strings.Split(seedList, ",") {
		seed, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return fmt.Errorf("--seeds: %q is not a seed (want non-negative integers)", f)
		}
		series := faultgen.Generate(cfg, seed)
		fl, err := Detect(series, cfg.Machines)
		if err != nil {
			return err
		}
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
	return nil
}

// ranges are the physical ranges declared for each kind.
var ranges = map[string][2]float64{
	"temperature": {-20, 150}, "vibration": {0, 50}, "current": {0, 100}, "pressure": {0, 25},
}

// Detect runs every series through the quality filters, one readings.Machine per machine
// (its four sensors processed in time order), and names each reading's flags as fault types.
func Detect(series []faultgen.Series, machines int) ([][][]faultgen.Fault, error) {
	out := make([][][]faultgen.Fault, len(series))
	per := len(series) / machines
	for m := range machines {
		group := series[m*per : (m+1)*per]
		mach := readings.NewMachine(fmt.Sprintf("m%d", m), readings.DefaultHealth)
		for _, s := range group {
			k := readings.Kind(s.Profile.Kind)
			r := ranges[s.Profile.Kind]
			mach.AddSensor(readings.Spec{ID: s.Sensor, Machine: mach.ID, Kind: k, Min: r[0], Max: r[1],
				Interval: s.Interval, Resolution: s.Profile.Resolution}, readings.DefaultConfig(k))
		}
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
					return nil, err
				}
				out[i][j] = types(res.Flags)
			}
		}
	}
	return out, nil
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
