package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"meshwork.dev/platform/launcher"
)

// runUp is `meshctl up`: it runs the whole mesh on this machine until ctx is cancelled
// (Ctrl-C). See package launcher for what starts, in which order, and how it stops.
func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: meshctl up [--dir .mesh] [--bin ./bin] [--no-sim] [--only catalog,quality] [--port-offset N] [--ha] [--replicas N]")
		fmt.Fprintln(stderr, "\nStarts NATS, FerretDB, Postgres and Redis with their data in --dir, then the catalog,")
		fmt.Fprintln(stderr, "every service built in --bin and the simulators; Ctrl-C stops everything.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	dir := fs.String("dir", ".mesh", "directory for the data, logs and endpoints.json (kept between runs)")
	bin := fs.String("bin", "./bin", "directory of the service binaries")
	noSim := fs.Bool("no-sim", false, "leave the simulators out")
	ha := fs.Bool("ha", false, "run NATS as a three-node cluster, one process per node (client ports 4222-4224), every product stream R3 with fsync on every write")
	replicas := fs.Int("replicas", 1, fmt.Sprintf("processes per domain service, 1 to %d (replica r on the service's ports + %d·(r-1))", launcher.MaxReplicas, launcher.ReplicaPortStep))
	offset := fs.Int("port-offset", 0, "add this to every port, to run a second mesh beside the first")
	only := fs.String("only", "", "comma-separated services (and simulators) to start; the catalog always starts")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("up: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("up: unexpected arguments %q", fs.Args())
	}
	if *replicas < 1 || *replicas > launcher.MaxReplicas {
		return fmt.Errorf("up: --replicas %d: want 1 to %d processes per domain service", *replicas, launcher.MaxReplicas)
	}
	if err := launcher.Preflight(ctx, stdout); err != nil {
		return err
	}
	table, err := launcher.ServicesIn(".")
	if err != nil {
		return err
	}
	err = launcher.Run(ctx, launcher.Options{
		Dir:      *dir,
		BinDir:   *bin,
		NoSim:    *noSim,
		HA:       *ha,
		Replicas: *replicas,
		Only:     launcher.Only(*only),
		Ports:    launcher.DefaultPorts().Offset(*offset),
		Services: launcher.OffsetServices(table, *offset),
		Stdout:   stdout,
		Getenv:   os.Getenv,
	})
	var exit *launcher.ExitError
	if errors.As(err, &exit) && len(exit.Tail) > 0 {
		fmt.Fprintf(stderr, "last lines of %s:\n%s", exit.Name, exit.TailText())
	}
	return err
}
