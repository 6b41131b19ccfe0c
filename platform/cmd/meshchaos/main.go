// Command meshchaos is the mesh's chaos suite (package chaos): it starts the mesh with
// `meshctl up` in a temporary directory, sends a bounded, numbered load, injects faults, and
// prints one table of what every product lost, duplicated or reordered. It exits 1 when
// anything was lost or stored twice, a double booking was found, or a fault the mesh can
// take was injected too few times; 2 when the run itself could not be made.
//
//	meshchaos [--long] [--bin ./bin] [--replicas N] [--single-nats] [--keep]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"meshwork.dev/platform/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var failed errFailed
	switch {
	case errors.As(err, &failed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "meshchaos:", err)
		os.Exit(2)
	}
}

// errFailed is a run that counted a loss, a duplicate or a missing fault.
type errFailed struct{ problems []string }

func (e errFailed) Error() string { return fmt.Sprintf("%d problems", len(e.problems)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meshchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	long := fs.Bool("long", false, "the long run: more readings, every fault 3 times")
	bin := fs.String("bin", "./bin", "directory of meshctl and the service binaries (make build)")
	replicas := fs.Int("replicas", 0, "processes per domain to ask meshctl up for, 1 to 3 (default 2)")
	keep := fs.Bool("keep", false, "keep the mesh's temporary directory")
	single := fs.Bool("single-nats", false, "run NATS as one server, not the --ha cluster (for comparison)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, min := chaos.Small(*bin), 1
	if *long {
		cfg, min = chaos.Long(*bin), 3
	}
	if *replicas != 0 {
		cfg.Replicas = *replicas
	}
	cfg.Keep, cfg.SingleNATS, cfg.Log = *keep, *single, stderr
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Write(stdout, min)
	if p := rep.Problems(min); len(p) > 0 {
		return errFailed{p}
	}
	return nil
}
