package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalCommand(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("ts,val,truth\n")
	for i := range 100 {
		v, label := "40.0", ""
		if i%2 == 1 {
			v = "40.3"
		}
		if i == 60 {
			v, label = "55", "spike"
		}
		b.WriteString("2026-01-01T00:" + pad(i/60) + ":" + pad(i%60) + "Z," + v + "," + label + "\n")
	}
	file := filepath.Join(t.TempDir(), "s.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	code := evalCommand([]string{"eval", "--csv", file, "--time-col", "ts", "--value-col", "val", "--label-col", "truth",
		"--min", "-20", "--max", "150"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), ",55,") || !strings.Contains(out.String(), "recall 1.000") {
		t.Fatalf("output:\n%s", out.String())
	}
	if code := evalCommand([]string{"eval"}, &out, &errOut); code != 2 {
		t.Fatalf("eval without --csv: exit %d", code)
	}
	if code := evalCommand([]string{"serve"}, &out, &errOut); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}

func pad(n int) string {
	s := "0" + string(rune('0'+n%10))
	if n >= 10 {
		s = string(rune('0'+n/10)) + string(rune('0'+n%10))
	}
	return s
}

func TestEvalCommandNABFileAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "nab.csv")
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for i := range 60 {
		b.WriteString("2013-12-02 21:" + pad(i/5+10) + ":" + pad(i%5*10) + "," + []string{"70.1", "70.4", "69.9"}[i%3] + "\n")
	}
	if err := os.WriteFile(good, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := evalCommand([]string{"eval", "--csv", good, "--tz", "America/New_York"}, &out, &errOut); code != 0 {
		t.Fatalf("NAB timestamps: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "# 60 readings") {
		t.Fatalf("output:\n%s", out.String())
	}
	errOut.Reset()
	if code := evalCommand([]string{"eval", "--csv", good, "--tz", "Mars/Olympus"}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "--tz") {
		t.Fatalf("bad --tz: exit %d: %s", code, errOut.String())
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("timestamp,value\n2013-12-02 21:15:00,1\n2013-12-02 21:15:00,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := evalCommand([]string{"eval", "--csv", bad}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "row 3") || !strings.Contains(errOut.String(), "repeats row 2") {
		t.Fatalf("repeated timestamp: exit %d: %s", code, errOut.String())
	}
}
