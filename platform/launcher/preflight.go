package launcher

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pkg is a Debian package the launcher needs and how to tell it is installed.
type pkg struct {
	name      string // the Debian package
	what      string // what the user is missing, for messages
	installed func() bool
}

func requiredPackages() []pkg {
	return []pkg{
		{name: "postgresql", what: "PostgreSQL server binaries (/usr/lib/postgresql/*/bin)", installed: func() bool {
			found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
			return len(found) > 0
		}},
		{name: "redis-server", what: "redis-server", installed: func() bool {
			_, err := exec.LookPath("redis-server")
			return err == nil
		}},
	}
}

// Preflight checks that the Postgres and Redis binaries are installed. When some are missing
// and apt-get can run (this process is root, or sudo works without a password) it installs them,
// with apt-get's output on stdout behind "[apt]"; otherwise it fails with one line naming the
// packages to install. The postgresql package may start a cluster of its own on port 5432: the
// launcher neither uses nor needs it.
func Preflight(ctx context.Context, stdout io.Writer) error {
	const op = "launcher: preflight"
	missing := missingPackages(requiredPackages())
	if len(missing) == 0 {
		return nil
	}
	aptGet, _ := exec.LookPath("apt-get")
	root := os.Geteuid() == 0
	sudo := !root && sudoWorks(ctx)
	cmds, err := installPlan(missing, aptGet, root, sudo)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	c := newConsole(stdout, nil)
	c.say("installing %s", strings.Join(packageNames(missing), " "))
	for _, args := range cmds {
		c.say("%s", strings.Join(args, " "))
		w := &lineWriter{c: c, name: "apt", tail: newLineTail(20)}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(cmd.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = w, w
		err := cmd.Run()
		w.flush()
		if err != nil {
			return fmt.Errorf("%s: %s: %w (its output is above)", op, strings.Join(args, " "), err)
		}
	}
	if still := missingPackages(missing); len(still) > 0 {
		return fmt.Errorf("%s: %s still missing after apt-get install", op, describe(still))
	}
	return nil
}

func missingPackages(pkgs []pkg) []pkg {
	var out []pkg
	for _, p := range pkgs {
		if !p.installed() {
			out = append(out, p)
		}
	}
	return out
}

// installPlan returns the commands that install the missing packages, or the one-line error
// telling the user what to install when this process cannot.
func installPlan(missing []pkg, aptGet string, root, sudo bool) ([][]string, error) {
	names := packageNames(missing)
	if aptGet == "" || (!root && !sudo) {
		return nil, fmt.Errorf("%s not installed: install %s (e.g. sudo apt-get install -y %s)",
			describe(missing), strings.Join(names, " and "), strings.Join(names, " "))
	}
	var prefix []string
	if !root {
		prefix = []string{"sudo", "-n", "--preserve-env=DEBIAN_FRONTEND"}
	}
	return [][]string{
		append(append([]string{}, prefix...), aptGet, "update"),
		append(append(append([]string{}, prefix...), aptGet, "install", "-y"), names...),
	}, nil
}

func packageNames(pkgs []pkg) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.name
	}
	return out
}

func describe(pkgs []pkg) string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.what
	}
	return strings.Join(out, " and ")
}

// sudoWorks reports whether sudo runs without asking for a password.
func sudoWorks(ctx context.Context) bool {
	if _, err := exec.LookPath("sudo"); err != nil {
		return false
	}
	return exec.CommandContext(ctx, "sudo", "-n", "true").Run() == nil
}
