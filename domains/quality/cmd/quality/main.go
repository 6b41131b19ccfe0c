// Command quality is the quality service (docs/quality.md): gRPC mesh.quality.v1.QualityService
// on GRPC_ADDR (default :7003), probes and metrics on HTTP_ADDR (default :8003). It needs
// DATABASE_URL and NATS_URL; it registers its products with the catalog at CATALOG_ADDR using
// its service account (SERVICE_CLIENT_ID/SECRET, IDENTITY_ADDR). Replicas share the raw
// readings in QUALITY_PARTITIONS partitions by machine (default 8, the same on every replica).
// `quality healthcheck` probes
// a running instance (for Docker). Subcommand:
//
//	quality eval --csv FILE [--tz UTC] [--time-col timestamp] [--value-col value] [--label-col label]
//	             [--kind temperature] [--min -1e9] [--max 1e9] [--interval 0] [--window 15]
//	             [--threshold 0]
//
// eval runs the readings filters on one sensor's CSV, prints the flagged points and, when the
// label column is present, precision, recall and F1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"meshwork.dev/domains/quality/evaluate"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/platform/service"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(service.Healthcheck(context.Background(), os.Getenv, os.Stderr))
	}
	if len(os.Args) > 1 {
		os.Exit(evalCommand(os.Args[1:], os.Stdout, os.Stderr))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(postgres.GCPercent)
	}
	service.Main("quality", run)
}

// evalCommand runs `quality eval`; any other subcommand is a usage error.
func evalCommand(args []string, stdout, stderr io.Writer) int {
	if args[0] != "eval" {
		fmt.Fprintln(stderr, "usage: quality [eval --csv FILE [flags]]")
		return 2
	}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("csv", "", "CSV file of one sensor's readings")
	tcol := fs.String("time-col", "timestamp", "timestamp column (RFC 3339, YYYY-MM-DD HH:MM:SS[.fff] or Unix seconds)")
	tz := fs.String("tz", "UTC", "time zone of timestamps written without an offset (IANA name, e.g. Europe/Berlin)")
	vcol := fs.String("value-col", "value", "value column")
	lcol := fs.String("label-col", "label", "label column (optional in the file)")
	kind := fs.String("kind", string(readings.Temperature), "sensor kind: temperature, vibration, current, pressure, running")
	lo := fs.Float64("min", -1e9, "physical minimum")
	hi := fs.Float64("max", 1e9, "physical maximum")
	interval := fs.Duration("interval", 0, "expected sampling interval (0: from the first two rows)")
	window := fs.Int("window", 0, "Hampel window (0: the kind's default)")
	threshold := fs.Float64("threshold", 0, "Hampel threshold in scaled MADs (0: the kind's default)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "quality eval: --csv is required")
		return 2
	}
	cfg := readings.DefaultConfig(readings.Kind(*kind))
	if *window > 0 {
		cfg.Window = *window
	}
	if *threshold > 0 {
		cfg.Threshold = *threshold
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		fmt.Fprintf(stderr, "quality eval: --tz %q: %v\n", *tz, err)
		return 2
	}
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintf(stderr, "quality eval: %v\n", err)
		return 1
	}
	defer f.Close()
	rep, err := evaluate.Run(f, evaluate.Options{
		TimeColumn: *tcol, ValueColumn: *vcol, LabelColumn: *lcol, Config: cfg, Location: loc,
		Spec: readings.Spec{ID: *file, Kind: readings.Kind(*kind), Min: *lo, Max: *hi, Interval: *interval},
	})
	if err != nil {
		fmt.Fprintf(stderr, "quality eval: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "timestamp,value,use,flags,label")
	for _, p := range rep.Flagged {
		fmt.Fprintf(stdout, "%s,%g,%g,%s,%s\n", p.Time.Format(time.RFC3339), p.Value, p.Use, joinFlags(p.Flags), p.Label)
	}
	fmt.Fprintf(stdout, "# %d readings, %d flagged\n", rep.Rows, len(rep.Flagged))
	if rep.Labelled {
		fmt.Fprintf(stdout, "# TP %d FP %d FN %d precision %.3f recall %.3f F1 %.3f\n", rep.TruePositives,
			rep.FalsePositives, rep.FalseNegatives, rep.Precision(), rep.Recall(), rep.F1())
		d := rep.Declared
		fmt.Fprintf(stdout, "# declared faults: TP %d FP %d FN %d precision %.3f recall %.3f F1 %.3f\n",
			d.TP, d.FP, d.FN, d.Precision(), d.Recall(), d.F1())
		labels := make([]string, 0, len(rep.ByLabel))
		for l := range rep.ByLabel {
			labels = append(labels, l)
		}
		slices.Sort(labels)
		for _, l := range labels {
			s := rep.ByLabel[l]
			fmt.Fprintf(stdout, "# fault type %s: %d readings, flagged %d, recall %.3f\n", l, s.TP+s.FN, s.TP, s.Recall())
		}
	}
	return 0
}

func joinFlags(f readings.Flag) string {
	out := ""
	for i, n := range f.Names() {
		if i > 0 {
			out += "|"
		}
		out += n
	}
	return out
}
