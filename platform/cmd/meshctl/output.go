package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// printJSON writes v as indented JSON; proto messages inside v should be protoJSON values.
func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("print json: %w", err)
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

// printProto writes m as indented protojson: the catalog API's own JSON form.
func (a *app) printProto(m proto.Message) error {
	raw, err := protoJSON(m)
	if err != nil {
		return err
	}
	return a.printJSON(raw)
}

// printProtoList writes messages as a JSON array of protojson objects.
func printProtoList[M proto.Message](a *app, msgs []M) error {
	out := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		raw, err := protoJSON(m)
		if err != nil {
			return err
		}
		out = append(out, raw)
	}
	return a.printJSON(out)
}

// protoJSON renders m as protojson for embedding in other JSON values.
func protoJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("protojson: %w", err)
	}
	return b, nil
}

// newTable returns a tabwriter for aligned columns; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes cells as one tab-separated table row.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// classWord is a classification as people say it: "internal", or "-" when unset.
func classWord(c platformv1.Classification) string {
	if c == platformv1.Classification_CLASSIFICATION_UNSPECIFIED {
		return "-"
	}
	return strings.ToLower(strings.TrimPrefix(c.String(), "CLASSIFICATION_"))
}

// parseClassification accepts "internal", "INTERNAL" or "CLASSIFICATION_INTERNAL".
func parseClassification(s string) (platformv1.Classification, error) {
	name := "CLASSIFICATION_" + strings.TrimPrefix(strings.ToUpper(s), "CLASSIFICATION_")
	v, ok := platformv1.Classification_value[name]
	if !ok || v == 0 {
		return 0, fmt.Errorf("classification %q: want public, internal, confidential or restricted", s)
	}
	return platformv1.Classification(v), nil
}

// enumWord renders an enum value name without its type prefix, in lower-case words:
// FRESHNESS_STATE_STALE with prefix "FRESHNESS_STATE_" is "stale".
func enumWord(name, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, prefix)), "_", " ")
}

// fmtDuration renders d compactly: 7d, 36h, 1m, 1m30s, 250ms; "-" for zero.
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// fmtPBDuration is fmtDuration of an optional proto duration.
func fmtPBDuration(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return fmtDuration(d.AsDuration())
}

// fmtTime renders an optional timestamp in UTC, RFC 3339 to the second, with its age
// relative to now: "2026-01-02T03:04:05Z (3s ago)".
func fmtTime(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	t := ts.AsTime()
	s := t.UTC().Format(time.RFC3339)
	if age := now.Sub(t).Round(time.Second); age >= 0 {
		s += " (" + fmtAge(age) + " ago)"
	}
	return s
}

// fmtAge renders an age to the second, "0s" for under half a second.
func fmtAge(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	return fmtDuration(d)
}

// fmtBytes renders a byte count with binary units: 512 B, 56.1 KiB, 3.0 GiB.
func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// listOrDash joins items with ", ", or is "-" when there are none.
func listOrDash(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, ", ")
}

// truncate shortens s to at most n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	s = oneLine(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
