package launcher

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestLineWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole lines", []string{"one\ntwo\n"}, "[quality] one\n[quality] two\n"},
		{"split across writes", []string{"o", "ne\ntw", "o\n"}, "[quality] one\n[quality] two\n"},
		{"crlf", []string{"one\r\n"}, "[quality] one\n"},
		{"unfinished last line", []string{"one\ntwo"}, "[quality] one\n[quality] two\n"},
		{"empty line", []string{"\n"}, "[quality] \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			w := &lineWriter{c: newConsole(&out, []string{"quality"}), name: "quality", tail: newLineTail(1)}
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.flush()
			if out.String() != tt.want {
				t.Errorf("output %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestLineWriterLongLineAndTail(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	tail := newLineTail(2)
	w := &lineWriter{c: newConsole(&out, nil), name: "x", tail: tail}
	_, _ = w.Write([]byte(strings.Repeat("a", maxLine+10) + "\nb\nc\n"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || len(lines[0]) != len("[x]    ")+maxLine || lines[1] != "[x]    aaaaaaaaaa" {
		t.Errorf("a long line should be cut at %d bytes; got %d lines", maxLine, len(lines))
	}
	if got := tail.get(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("tail = %q, want the last two lines", got)
	}
}

func TestConsoleAlignsPrefixes(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := newConsole(&out, []string{"catalog", "quality-sim"})
	c.say("starting")
	c.line("quality-sim", "simulating")
	c.line("catalog", "ready")
	want := "[mesh]        starting\n[quality-sim] simulating\n[catalog]     ready\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReadySummary(t *testing.T) {
	t.Parallel()
	ep := Endpoints{NATS: "nats://127.0.0.1:4222", NATSMonitor: "http://127.0.0.1:8222", MQTT: "mqtt://127.0.0.1:1883",
		Postgres: "postgres://postgres@127.0.0.1:15432", Redis: "redis://127.0.0.1:16379", MongoDB: "mongodb://%2Fsrc%2F.mesh%2Frun%2Fferretdb.sock/"}
	got := readySummary(ep, Services()[:1], Services()[6:7], "/src/.mesh")
	first, rest, _ := strings.Cut(got, "\n")
	if first != "mesh ready: 1 service, NATS nats://127.0.0.1:4222 (MQTT :1883)" {
		t.Errorf("first line %q", first)
	}
	for _, want := range []string{"catalog      127.0.0.1:7000    http://127.0.0.1:8000", "quality-sim  (simulator)",
		"meshctl catalog ls", "bin/meshctl tail catalog.product-changes.v1", "grpcurl -plaintext 127.0.0.1:7000 list", "sub 'dp.>'",
		"/src/.mesh/endpoints.json", `their passwords: "stores" in /src/.mesh/secrets.json`} {
		if !strings.Contains(rest, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	shifted := ep
	shifted.NATS = "nats://127.0.0.1:4322"
	if got := readySummary(shifted, OffsetServices(Services()[:1], 100), nil, "/d"); !strings.Contains(got,
		"bin/meshctl --catalog 127.0.0.1:7100 --nats nats://127.0.0.1:4322 catalog ls") {
		t.Errorf("summary with offset ports lacks the flags meshctl needs:\n%s", got)
	}
	if got := readySummary(ep, Services()[:3], nil, "/d"); !strings.HasPrefix(got, "mesh ready: 3 services,") {
		t.Errorf("summary for three services starts %q", got[:40])
	}
}
