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
