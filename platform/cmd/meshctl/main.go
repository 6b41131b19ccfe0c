// Command meshctl is the Meshwork command line: it browses the data product catalog, tails
// a product's events, lints descriptors and contracts against the governance rules, signs in
// to identity and administers users and grants, and runs the whole mesh locally
// (`meshctl up`). See docs/meshctl.md.
//
// Every command parses its own flags (stdlib flag, flags may follow arguments) and shares
// the global flags --catalog, --identity, --nats, -o and --token. Errors are one line on stderr,
// "meshctl: …", with exit status 2 for usage errors and 1 otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"meshwork.dev/platform/launcher"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one meshctl command line (without the program name) and returns the exit
// status. Tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newApp(os.Getenv, stdin, stdout, stderr).run(ctx, args)
}

// Defaults of the global flags when neither a flag nor the environment sets them.
const (
	defaultCatalogAddr  = "127.0.0.1:7000"
	defaultIdentityAddr = "127.0.0.1:7001"
	defaultNATSURL      = "nats://127.0.0.1:4222"
)

// globals are the flags every command accepts, before or after its name.
type globals struct {
	catalog  string // catalog gRPC address
	identity string // identity gRPC address
	nats     string // NATS URL
	output   string // "table", "json", or "" for the command's default (table, but JSON lines for tail)
	token    string // bearer token sent instead of the saved session's
}

// app is one meshctl invocation: its streams, environment and global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	// sleep waits d or until ctx ends; tests replace it with a clock advance.
	sleep func(ctx context.Context, d time.Duration) error
	// credPath is the credentials file (MESHCTL_CREDENTIALS); "" means credstore.DefaultPath.
	credPath string
	in       *input // standard input's answers, once asked for
	g        globals
}

// newApp reads the global flags' defaults from the environment.
func newApp(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *app {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	return &app{
		stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now, sleep: sleep,
		credPath: getenv("MESHCTL_CREDENTIALS"),
		g: globals{
			catalog:  or(getenv("CATALOG_ADDR"), defaultCatalogAddr),
			identity: or(getenv("IDENTITY_ADDR"), defaultIdentityAddr),
			nats:     or(getenv("NATS_URL"), defaultNATSURL),
			token:    getenv("MESHCTL_TOKEN"),
		},
	}
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// errHelp ends a command that printed its help: exit status 0.
var errHelp = errors.New("help printed")

// run dispatches args and turns the outcome into an exit status and at most one stderr line.
func (a *app) run(ctx context.Context, args []string) int {
	err := a.dispatch(ctx, args)
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintln(a.stderr, "meshctl:", oneLine(err.Error()))
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// dispatch parses the global flags in front of the command and runs the command.
func (a *app) dispatch(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "meshctl"})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.help()
			return errHelp
		}
		return usagef("%v (run 'meshctl help')", err)
	}
	if err := a.checkGlobals(); err != nil {
		return err
	}
	args = fs.Args()
	if len(args) == 0 {
		a.help()
		return nil
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help":
		if len(rest) == 0 {
			a.help()
			return nil
		}
		return a.dispatch(ctx, append(rest, "-h"))
	case "catalog":
		return a.catalogCmd(ctx, rest)
	case "tail":
		return a.tailCmd(ctx, rest)
	case "lint":
		return a.lintCmd(ctx, rest)
	case "contract":
		return a.contractCmd(ctx, rest)
	case "login":
		return a.loginCmd(ctx, rest)
	case "logout":
		return a.logoutCmd(ctx, rest)
	case "token":
		return a.tokenCmd(ctx, rest)
	case "users":
		return a.usersCmd(ctx, rest)
	case "access":
		return a.accessCmd(ctx, rest)
	case "audit":
		return a.auditCmd(ctx, rest)
	case "nats-keys":
		return a.natsKeysCmd(rest)
	case "grants":
		return a.grantsCmd(ctx, rest)
	case "service-accounts":
		return a.serviceAccountsCmd(ctx, rest)
	case "new":
		return a.newCmd(ctx, rest)
	case launcher.NATSNodeCommand: // hidden: the launcher runs its --ha nodes with it
		return launcher.RunNATSNode(ctx, rest, a.stdout, a.stderr)
	case "up":
		return runUp(ctx, rest, a.stdout, a.stderr)
	case "version":
		return a.versionCmd(rest)
	}
	return usagef("unknown command %q (run 'meshctl help')", name)
}

// checkGlobals validates the global flags after parsing.
func (a *app) checkGlobals() error {
	if a.g.output != "" && a.g.output != "table" && a.g.output != "json" {
		return usagef("-o %q: want table or json", a.g.output)
	}
	return nil
}

// json reports whether output is for scripts.
func (a *app) json() bool { return a.g.output == "json" }

// cmdSpec describes a leaf command for its help text.
type cmdSpec struct {
	name    string // e.g. "catalog ls"
	args    string // e.g. "[--domain D] <product>"
	summary string // what it does, one or more lines
	// ownCatalogFlag leaves the global --catalog out, for a command that defines its own.
	ownCatalogFlag bool
}

// cmdFlags is a leaf command's FlagSet and what its help says.
type cmdFlags struct {
	*flag.FlagSet
	spec cmdSpec
}

// newFlags returns the flags of a leaf command with the global flags registered. The
// FlagSet prints nothing itself: parse prints the help or returns a one-line error.
func (a *app) newFlags(spec cmdSpec) *cmdFlags {
	fs := flag.NewFlagSet(spec.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if !spec.ownCatalogFlag {
		fs.StringVar(&a.g.catalog, "catalog", a.g.catalog, "catalog gRPC `address` (env CATALOG_ADDR)")
	}
	fs.StringVar(&a.g.identity, "identity", a.g.identity, "identity gRPC `address` (env IDENTITY_ADDR)")
	fs.StringVar(&a.g.nats, "nats", a.g.nats, "NATS `URL` (env NATS_URL)")
	fs.StringVar(&a.g.output, "o", a.g.output, "output `format`: table (for people; the default) or json (for scripts; tail's default)")
	fs.StringVar(&a.g.token, "token", a.g.token, "bearer `token` to send instead of the saved session's (env MESHCTL_TOKEN)")
	return &cmdFlags{FlagSet: fs, spec: spec}
}

// usage prints the command's help to stdout.
func (a *app) usage(fs *cmdFlags) {
	fmt.Fprintf(a.stdout, "usage: meshctl %s %s\n\n%s\n\nflags:\n", fs.spec.name, fs.spec.args, fs.spec.summary)
	fs.SetOutput(a.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parse parses args with fs, letting flags and positional arguments mix ("--" ends the
// flags), and returns the positional arguments. -h prints the command's help.
func (a *app) parse(fs *cmdFlags, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.usage(fs)
				return nil, errHelp
			}
			return nil, usagef("%s: %v (run 'meshctl %s -h')", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, a.checkGlobals()
}

// noArgs parses args with fs for a command that takes flags only.
func (a *app) noArgs(fs *cmdFlags, args []string) error {
	pos, err := a.parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("%s: unexpected arguments %q", fs.Name(), pos)
	}
	return err
}

// listFlag is a repeatable flag whose values may also be comma-separated: --role a --role b,c.
type listFlag []string

// String implements flag.Value.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

// help prints the overview of every command.
func (a *app) help() {
	fmt.Fprint(a.stdout, `meshctl — the Meshwork command line

usage: meshctl [global flags] <command> [flags] [arguments]

commands:
  catalog ls        list data products (filters: --domain --owner --classification --pii/--no-pii)
  catalog search    search products by words in names, descriptions, tags and field names
  catalog show      a product's contract, PII fields and observed stream state (--proto: schema)
  catalog lineage   producers and consumers around a product (--depth N)
  catalog export    a product's contract as an Open Data Contract (YAML)
  tail              print a product's events as JSON lines (--key --since --seq --last -f -n; needs a grant)
  lint              check descriptors (files, --catalog) and contracts (--contracts) against governance
  contract          test: a live stream against its contract (--output junit|json); breaking: old vs new
  login             sign in to identity (password and TOTP; --dev: the admin of a local mesh)
  logout            end the session and forget its tokens
  token             print a current access token (for grpcurl -H "authorization: Bearer …")
  users             ls, get, create, roles, deactivate, me
  grants            ls, add, revoke: scopes granted to users and service accounts
  access            request, ls, approve, deny, revoke: access to data products, enforced on NATS
  audit             the immutable audit trail (--principal --product --action --since --until)
  nats-keys         fresh NATS authentication keys as .env lines, for docker compose
  service-accounts  create: a service account and its client secret
  new               domain <name>: a new domain module; product <domain> <name>: a new data product
  up                run the whole mesh on this machine
  version           print meshctl's version
  help [command]    this text, or a command's flags

global flags (also accepted after the command):
  --catalog ADDR    catalog gRPC address (env CATALOG_ADDR, default 127.0.0.1:7000)
  --identity ADDR   identity gRPC address (env IDENTITY_ADDR, default 127.0.0.1:7001)
  --nats URL        NATS URL (env NATS_URL, default nats://127.0.0.1:4222)
  -o table|json     output for people (default) or scripts (tail prints JSON lines unless -o table)
  --token TOKEN     bearer token to send instead of the saved session's (env MESHCTL_TOKEN)

Sessions from 'meshctl login' are kept per identity address in MESHCTL_CREDENTIALS, by default
the user config dir's meshwork/credentials.json (mode 0600).

Errors print one line to stderr; the exit status is 2 for usage errors, 1 for other failures.
`)
}
