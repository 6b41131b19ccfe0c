package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Main runs a service's run function and exits: it cancels run's context on SIGINT or SIGTERM
// (a second signal kills the process at once), passes os.Getenv, and on failure prints one line
// "name: error" to stderr and exits with status 2 for a *ConfigError, 1 for anything else.
// A run that returns nil, or fails only because a signal cancelled it, exits 0.
// With the single argument "healthcheck" it probes a running instance instead (Healthcheck).
func Main(name string, run func(ctx context.Context, getenv func(string) string) error) {
	if len(os.Args) == 2 && os.Args[1] == HealthcheckArg {
		os.Exit(Healthcheck(context.Background(), os.Getenv, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore default handling: the next signal terminates
	}()
	err := run(ctx, os.Getenv)
	signalled := ctx.Err() != nil // before stop, which cancels ctx too
	stop()
	os.Exit(exitCode(os.Stderr, name, err, signalled))
}

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// exitCode reports err on w as one line and returns the process exit status.
func exitCode(w io.Writer, name string, err error, signalled bool) int {
	if err == nil || (signalled && errors.Is(err, context.Canceled)) {
		return 0
	}
	line := oneLine.Replace(err.Error())
	fmt.Fprintf(w, "%s: %s\n", name, line)
	if _, ok := errors.AsType[*ConfigError](err); ok {
		return 2
	}
	return 1
}
