package chaos

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Proc is one process under the launcher, as /proc shows it.
type Proc struct {
	PID  int
	Args []string
}

// Name is the base name of the process's program.
func (p Proc) Name() string {
	if len(p.Args) == 0 {
		return ""
	}
	return filepath.Base(p.Args[0])
}

// Descendants lists the processes below pid, found through /proc/<pid>/task/<tid>/children,
// in PID order. Processes that exit meanwhile are left out.
func Descendants(pid int) []Proc {
	var out []Proc
	queue := children(pid)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		args, err := cmdline(p)
		if err != nil {
			continue
		}
		out = append(out, Proc{PID: p, Args: args})
		queue = append(queue, children(p)...)
	}
	slices.SortFunc(out, func(a, b Proc) int { return a.PID - b.PID })
	return out
}

// children are the direct children of pid, from every one of its threads.
func children(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil, err
	}
	var args []string
	for _, a := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
		args = append(args, string(a))
	}
	return args, nil
}

// Named returns the processes whose program is name.
func Named(procs []Proc, name string) []Proc {
	var out []Proc
	for _, p := range procs {
		if p.Name() == name {
			out = append(out, p)
		}
	}
	return out
}

// NATSNodes returns the NATS node processes (their command line holds nats-node and
// --name nats-N) by node name.
func NATSNodes(procs []Proc) map[string]Proc {
	out := map[string]Proc{}
	for _, p := range procs {
		line := strings.Join(p.Args, " ")
		if !strings.Contains(line, "nats-node") {
			continue
		}
		for i, a := range p.Args {
			switch {
			case a == "--name" && i+1 < len(p.Args) && strings.HasPrefix(p.Args[i+1], "nats-"):
				out[p.Args[i+1]] = p
			case strings.HasPrefix(a, "--name=nats-"):
				out[strings.TrimPrefix(a, "--name=")] = p
			}
		}
	}
	return out
}
