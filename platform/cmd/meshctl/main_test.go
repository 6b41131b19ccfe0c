package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

func TestUsageAndHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // contained in stdout
		stderr string // contained in the one stderr line; "" for no stderr
	}{
		{name: "no arguments print the overview", args: nil, stdout: "usage: meshctl [global flags] <command>"},
		{name: "help", args: []string{"help"}, stdout: "catalog lineage"},
		{name: "-h", args: []string{"-h"}, stdout: "global flags"},
		{name: "help for a command", args: []string{"help", "tail"}, stdout: "usage: meshctl tail <product>"},
		{name: "help for a catalog command", args: []string{"help", "catalog", "lineage"}, stdout: "--depth"},
		{name: "command -h", args: []string{"catalog", "ls", "-h"}, stdout: "-no-pii"},
		{name: "catalog alone lists its commands", args: []string{"catalog"}, stdout: "usage: meshctl catalog <command>"},
		{name: "lint -h shows its own --catalog", args: []string{"lint", "-h"}, stdout: "--catalog=ADDR"},
		{name: "help lists the identity commands", args: []string{"help"}, stdout: "--identity ADDR"},
		{name: "users alone lists its commands", args: []string{"users"}, stdout: "usage: meshctl users <command>"},
		{name: "grants alone lists its commands", args: []string{"grants"}, stdout: "usage: meshctl grants <command>"},
		{name: "login -h", args: []string{"login", "-h"}, stdout: "-recovery-code"},
		{name: "login --dev with --email", args: []string{"login", "--dev", "--email", "a@b"}, code: 2, stderr: "--dev takes no --email"},
		{name: "token takes no arguments", args: []string{"token", "x"}, code: 2, stderr: "token: unexpected arguments"},
		{name: "unknown command", args: []string{"bogus"}, code: 2, stderr: `unknown command "bogus"`},
		{name: "unknown catalog command", args: []string{"catalog", "rm"}, code: 2, stderr: `unknown command "catalog rm"`},
		{name: "unknown flag", args: []string{"catalog", "ls", "--bogus"}, code: 2, stderr: "catalog ls: flag provided but not defined: -bogus"},
		{name: "unknown global flag", args: []string{"--bogus", "version"}, code: 2, stderr: "flag provided but not defined: -bogus"},
		{name: "bad output format", args: []string{"-o", "yaml", "version"}, code: 2, stderr: `-o "yaml": want table or json`},
		{name: "bad output format after the command", args: []string{"version", "-o", "xml"}, code: 2, stderr: `-o "xml"`},
		{name: "show needs a product", args: []string{"catalog", "show"}, code: 2, stderr: "want one product id"},
		{name: "show takes one product", args: []string{"catalog", "show", "a.b.v1", "c.d.v1"}, code: 2, stderr: "got 2 arguments"},
		{name: "ls takes no arguments", args: []string{"catalog", "ls", "quality"}, code: 2, stderr: "unexpected arguments"},
		{name: "pii and no-pii", args: []string{"catalog", "ls", "--pii", "--no-pii"}, code: 2, stderr: "exclude each other"},
		{name: "bad classification", args: []string{"catalog", "ls", "--classification", "secret"}, code: 2, stderr: `classification "secret"`},
		{name: "search needs words", args: []string{"catalog", "search"}, code: 2, stderr: "give the words"},
		{name: "depth out of range", args: []string{"catalog", "lineage", "a.b.v1", "--depth", "9"}, code: 2, stderr: "--depth 9"},
		{name: "unknown export format", args: []string{"catalog", "export", "a.b.v1", "--format", "avro"}, code: 2, stderr: `--format "avro"`},
		{name: "since and seq", args: []string{"tail", "a.b.v1", "--since", "10m", "--seq", "3"}, code: 2, stderr: "--since and --seq"},
		{name: "bad since", args: []string{"tail", "a.b.v1", "--since", "yesterday"}, code: 2, stderr: `"yesterday" is neither`},
		{name: "negative n", args: []string{"tail", "a.b.v1", "-n", "-1"}, code: 2, stderr: "-n -1"},
		{name: "version takes no arguments", args: []string{"version", "x"}, code: 2, stderr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := meshctl(t, tt.args...)
			r.wantCode(t, tt.code)
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, r.stdout)
			}
			if tt.stderr == "" {
				if r.stderr != "" {
					t.Errorf("stderr = %q, want none", r.stderr)
				}
				return
			}
			r.wantErrLine(t, tt.stderr)
		})
	}
}

func TestRunUsesTheProcess(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("run version = %d, stderr %q", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "meshctl ") {
		t.Errorf("version printed %q", stdout.String())
	}
}

func TestGlobalDefaultsFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CATALOG_ADDR": "catalog:7000", "NATS_URL": "nats://nats:4222", "MESHCTL_TOKEN": "tok",
		"IDENTITY_ADDR": "identity:7001", "MESHCTL_CREDENTIALS": "/tmp/creds.json"}
	a := newApp(func(k string) string { return env[k] }, nil, nil, nil)
	if a.g.catalog != "catalog:7000" || a.g.nats != "nats://nats:4222" || a.g.token != "tok" || a.g.identity != "identity:7001" || a.credPath != "/tmp/creds.json" {
		t.Errorf("globals from env = %+v", a.g)
	}
	a = newApp(func(string) string { return "" }, nil, nil, nil)
	if a.g.catalog != defaultCatalogAddr || a.g.nats != defaultNATSURL || a.g.token != "" || a.g.output != "" || a.g.identity != defaultIdentityAddr {
		t.Errorf("default globals = %+v", a.g)
	}
}

func TestParseMixesFlagsAndArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		wantPos  []string
		wantKey  string
		wantOut  string
		wantCat  string
		wantFail bool
	}{
		{args: []string{"a.b.v1"}, wantPos: []string{"a.b.v1"}},
		{args: []string{"a.b.v1", "--key", "m-1", "-o", "json"}, wantPos: []string{"a.b.v1"}, wantKey: "m-1", wantOut: "json"},
		{args: []string{"--key=m-2", "x", "y", "--catalog", "h:1"}, wantPos: []string{"x", "y"}, wantKey: "m-2", wantCat: "h:1"},
		{args: []string{"x", "--", "--key", "y"}, wantPos: []string{"x", "--key", "y"}},
		{args: []string{"x", "--nope"}, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			a := newApp(func(string) string { return "" }, nil, &bytes.Buffer{}, &bytes.Buffer{})
			fs := a.newFlags(cmdSpec{name: "test"})
			key := fs.String("key", "", "")
			pos, err := a.parse(fs, tt.args)
			if (err != nil) != tt.wantFail {
				t.Fatalf("parse error = %v, wantFail %v", err, tt.wantFail)
			}
			if tt.wantFail {
				return
			}
			if !slices.Equal(pos, tt.wantPos) || *key != tt.wantKey || a.g.output != tt.wantOut {
				t.Errorf("parse = %q key %q -o %q, want %q key %q -o %q", pos, *key, a.g.output, tt.wantPos, tt.wantKey, tt.wantOut)
			}
			if tt.wantCat != "" && a.g.catalog != tt.wantCat {
				t.Errorf("--catalog = %q, want %q", a.g.catalog, tt.wantCat)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	t.Parallel()
	r := meshctl(t, "version", "-o", "json")
	r.wantCode(t, 0)
	for _, want := range []string{`"version": "dev"`, `"go": "go`, `"platform": "`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version JSON %s lacks %s", r.stdout, want)
		}
	}
}
