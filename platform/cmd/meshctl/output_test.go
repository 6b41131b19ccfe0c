package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

func TestFmtDuration(t *testing.T) {
	t.Parallel()
	tests := map[time.Duration]string{
		0:                        "-",
		250 * time.Millisecond:   "250ms",
		time.Minute:              "1m",
		90 * time.Second:         "1m30s",
		time.Hour:                "1h",
		90 * time.Minute:         "1h30m",
		36 * time.Hour:           "36h",
		7 * 24 * time.Hour:       "7d",
		time.Hour + time.Second:  "1h0m1s",
		14 * 24 * time.Hour:      "14d",
		24*time.Hour + time.Hour: "25h",
	}
	for d, want := range tests {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFmtBytes(t *testing.T) {
	t.Parallel()
	tests := map[uint64]string{
		0:             "0 B",
		1023:          "1023 B",
		1024:          "1.0 KiB",
		57446:         "56.1 KiB",
		5 << 20:       "5.0 MiB",
		3 << 30:       "3.0 GiB",
		1<<40 + 1<<39: "1.5 TiB",
	}
	for n, want := range tests {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFmtTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ts   *timestamppb.Timestamp
		want string
	}{
		{ts: nil, want: "-"},
		{ts: timestamppb.New(fixedNow.Add(-3 * time.Second)), want: "2026-03-04T05:06:04Z (3s ago)"},
		{ts: timestamppb.New(fixedNow.Add(-100 * time.Millisecond)), want: "2026-03-04T05:06:06Z (0s ago)"},
		{ts: timestamppb.New(fixedNow.Add(-2 * 24 * time.Hour)), want: "2026-03-02T05:06:07Z (2d ago)"},
		{ts: timestamppb.New(fixedNow.Add(time.Hour)), want: "2026-03-04T06:06:07Z"},
	}
	for _, tt := range tests {
		if got := fmtTime(tt.ts, fixedNow); got != tt.want {
			t.Errorf("fmtTime(%v) = %q, want %q", tt.ts, got, tt.want)
		}
	}
}

func TestParseClassification(t *testing.T) {
	t.Parallel()
	tests := map[string]platformv1.Classification{
		"public":                     platformv1.Classification_CLASSIFICATION_PUBLIC,
		"Internal":                   platformv1.Classification_CLASSIFICATION_INTERNAL,
		"CONFIDENTIAL":               platformv1.Classification_CLASSIFICATION_CONFIDENTIAL,
		"CLASSIFICATION_RESTRICTED":  platformv1.Classification_CLASSIFICATION_RESTRICTED,
		"secret":                     0,
		"unspecified":                0,
		"CLASSIFICATION_UNSPECIFIED": 0,
		"":                           0,
	}
	for in, want := range tests {
		got, err := parseClassification(in)
		if (err != nil) != (want == 0) || got != want {
			t.Errorf("parseClassification(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got := classWord(platformv1.Classification_CLASSIFICATION_CONFIDENTIAL); got != "confidential" {
		t.Errorf("classWord = %q", got)
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "10m", want: fixedNow.Add(-10 * time.Minute)},
		{in: "1h30m", want: fixedNow.Add(-90 * time.Minute)},
		{in: "2d", want: fixedNow.Add(-48 * time.Hour)},
		{in: "2026-03-01T00:00:00Z", want: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026-03-01T00:00:00.5+01:00", want: time.Date(2026, 2, 28, 23, 0, 0, 5e8, time.UTC)},
		{in: "0s", wantErr: true},
		{in: "-5m", wantErr: true},
		{in: "d", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "yesterday", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, fixedNow)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate short = %q", got)
	}
	if got := truncate("Readings of every sensor\nwith outliers removed", 12); got != "Readings of…" {
		t.Errorf("truncate long = %q", got)
	}
}
