package launcher

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
)

// console writes whole lines from many sources to one output, each behind its source's name
// in brackets, padded so that the text after the prefixes lines up.
type console struct {
	mu    sync.Mutex
	w     io.Writer
	width int // of the widest "[name]"
}

// meshName is the prefix of the launcher's own lines.
const meshName = "mesh"

func newConsole(w io.Writer, names []string) *console {
	c := &console{w: w, width: len(meshName) + 2}
	for _, n := range names {
		c.width = max(c.width, len(n)+2)
	}
	return c
}

func (c *console) prefix(name string) string {
	return fmt.Sprintf("%-*s ", c.width, "["+name+"]")
}

// line writes one line of text behind name's prefix.
func (c *console) line(name, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.w, c.prefix(name)+text+"\n")
}

// say writes one of the launcher's own lines.
func (c *console) say(format string, args ...any) {
	c.line(meshName, fmt.Sprintf(format, args...))
}

// block writes text as it is, unprefixed: the summary after "mesh ready".
func (c *console) block(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.w, text)
}

// maxLine is the longest line kept whole; longer output is cut into lines of this size.
const maxLine = 64 << 10

// lineWriter is one child stream's writer: it cuts the bytes into lines, writes each behind the
// child's name and keeps the last ones in a tail shared by the child's stdout and stderr.
type lineWriter struct {
	c    *console
	name string
	tail *lineTail
	mu   sync.Mutex
	buf  []byte
}

// Write writes every complete line of p; it keeps an unfinished line for the next Write or flush.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 && len(w.buf) < maxLine {
			return len(p), nil
		}
		if i < 0 || i > maxLine {
			i = maxLine
		}
		w.emit(string(w.buf[:i]))
		if i < len(w.buf) && w.buf[i] == '\n' {
			i++
		}
		w.buf = w.buf[i:]
	}
}

// flush writes what is left of an unfinished last line.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func (w *lineWriter) emit(line string) {
	line = strings.TrimSuffix(line, "\r")
	w.tail.add(line)
	w.c.line(w.name, line)
}

// lineTail keeps the last n lines written to it. It is safe for concurrent use.
type lineTail struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newLineTail(n int) *lineTail { return &lineTail{n: n} }

func (t *lineTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = append(t.lines[:0], t.lines[len(t.lines)-t.n:]...)
	}
}

// get returns a copy of the kept lines, oldest first.
func (t *lineTail) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// readySummary is what Run prints once the mesh is up: the "mesh ready" line, the endpoints
// and commands to try.
func readySummary(ep Endpoints, svcs []Service, sims []Service, dir string) string {
	var b strings.Builder
	noun := "services"
	if len(svcs) == 1 {
		noun = "service"
	}
	mqtt := ""
	if ep.MQTT != "" {
		mqtt = " (MQTT :" + ep.MQTT[strings.LastIndexByte(ep.MQTT, ':')+1:] + ")"
	}
	fmt.Fprintf(&b, "mesh ready: %d %s, NATS %s%s\n", len(svcs), noun, ep.NATS, mqtt)
	fmt.Fprintf(&b, "\n  %-12s %-17s %s\n", "service", "gRPC", "HTTP")
	for _, s := range svcs {
		fmt.Fprintf(&b, "  %-12s %-17s http://%s\n", s.Name, s.GRPCAddr(), s.HTTPAddr())
	}
	for _, s := range sims {
		fmt.Fprintf(&b, "  %-12s (simulator)\n", s.Name)
	}
	fmt.Fprintf(&b, "\n  NATS      %s  (monitor %s)\n", ep.NATS, ep.NATSMonitor)
	if ep.MQTT != "" {
		fmt.Fprintf(&b, "  MQTT      %s\n", ep.MQTT)
	}
	fmt.Fprintf(&b, "  Postgres  %s/<db>?sslmode=disable  (data %s)\n", ep.Postgres, ep.PostgresData)
	fmt.Fprintf(&b, "  Redis     %s\n", ep.Redis)
	fmt.Fprintf(&b, "            their passwords: \"stores\" in %s (0600)\n", dir+"/"+SecretsFile)
	fmt.Fprintf(&b, "  MongoDB   %s  (FerretDB, on a socket only you can reach)\n", ep.MongoDB)
	fmt.Fprintf(&b, "  all URLs  %s; infrastructure logs in %s\n", dir+"/"+EndpointsFile, ep.Logs)
	catalog, identity := "127.0.0.1:7000", ""
	for _, s := range svcs {
		switch s.Name {
		case Catalog:
			catalog = s.GRPCAddr()
		case Identity:
			identity = s.GRPCAddr()
		}
	}
	meshctl := "meshctl"
	if catalog != "127.0.0.1:7000" || ep.NATS != "nats://127.0.0.1:4222" {
		meshctl = fmt.Sprintf("meshctl --catalog %s --nats %s", catalog, ep.NATS)
	}
	if identity != "" && identity != "127.0.0.1:7001" {
		meshctl += " --identity " + identity
	}
	fmt.Fprintf(&b, "\n  try:\n")
	if identity != "" {
		meshDir := ""
		if filepath.Base(dir) != ".mesh" {
			meshDir = " --mesh-dir " + dir
		}
		fmt.Fprintf(&b, "    bin/%s login --dev%s   (the admin's dev credentials: %s)\n", meshctl, meshDir, filepath.Join(dir, AdminFile))
		fmt.Fprintf(&b, "    bin/%s users ls\n", meshctl)
	}
	fmt.Fprintf(&b, "    bin/%s catalog ls\n", meshctl)
	fmt.Fprintf(&b, "    bin/%s tail catalog.product-changes.v1\n", meshctl)
	fmt.Fprintf(&b, "    bin/grpcurl -plaintext %s list\n", catalog)
	fmt.Fprintf(&b, "    bin/nats --server %s --token \"$(bin/%s token)\" sub 'dp.>'   (NATS admits mesh tokens; make tools builds bin/nats)\n", ep.NATS, meshctl)
	fmt.Fprintf(&b, "\n  Ctrl-C stops the mesh; the data stays in %s.\n", dir)
	return b.String()
}
