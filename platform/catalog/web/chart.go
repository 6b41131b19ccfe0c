package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The chart shows chartBuckets buckets of chartBucket each, ending now.
const (
	chartBuckets = 36
	chartBucket  = 5 * time.Minute
)

// bucket is how many events a stream stored in [Start, Start+chartBucket).
type bucket struct {
	Start time.Time
	Count uint64
}

// PerMinute is the bucket's mean rate.
func (b bucket) PerMinute() float64 { return float64(b.Count) / chartBucket.Minutes() }

// eventBuckets counts the events stored per bucket over the chart's span, from the sequence
// numbers at each bucket's start: chartBuckets+1 lookups whatever the stream's volume.
func eventBuckets(ctx context.Context, js jetstream.JetStream, stream string, now time.Time) ([]bucket, error) {
	if js == nil {
		return nil, errors.New("JetStream is not configured")
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	last := s.CachedInfo().State.LastSeq
	end := now.Truncate(time.Minute).Add(time.Minute)
	start := end.Add(-chartBuckets * chartBucket)
	seqs := make([]uint64, chartBuckets+1)
	for i := range seqs {
		if seqs[i], err = seqAt(ctx, js, stream, start.Add(time.Duration(i)*chartBucket), last); err != nil {
			return nil, err
		}
	}
	out := make([]bucket, chartBuckets)
	for i := range out {
		out[i] = bucket{Start: start.Add(time.Duration(i) * chartBucket), Count: seqs[i+1] - seqs[i]}
	}
	return out, nil
}

// seqAt is the sequence of the first message stored at or after t, last+1 when there is none.
func seqAt(ctx context.Context, js jetstream.JetStream, stream string, t time.Time, last uint64) (uint64, error) {
	req, _ := json.Marshal(map[string]any{"start_time": t.UTC(), "no_hdr": true})
	msg, err := js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return 0, err
	}
	var resp struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return 0, err
	}
	switch {
	case resp.Error != nil && resp.Error.Code == http.StatusNotFound:
		return last + 1, nil
	case resp.Error != nil:
		return 0, errors.New(resp.Error.Description)
	case resp.Message == nil:
		return 0, errors.New("empty message get response")
	}
	return resp.Message.Seq, nil
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH   = 640, 140
	chartLeft        = 44
	chartTop, chartB = 10, 24
)

// drawChart draws the buckets as bars of events per minute, with a text alternative.
func drawChart(bs []bucket) template.HTML {
	var peak float64
	var total uint64
	for _, b := range bs {
		peak = max(peak, b.PerMinute())
		total += b.Count
	}
	scale := peak
	if scale == 0 {
		scale = 1
	}
	plotW, plotH := float64(chartW-chartLeft-4), float64(chartH-chartTop-chartB)
	barW := plotW / float64(len(bs))
	span := time.Duration(len(bs)) * chartBucket
	var sb strings.Builder
	desc := fmt.Sprintf("%d events in the last %s, at most %.1f per minute", total, span, peak)
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&sb, `<title id="chart-title">Events per minute: %s</title>`, template.HTMLEscapeString(desc))
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%.0f" class="axis"/>`, chartLeft, chartTop, chartLeft, float64(chartTop)+plotH)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%.0f" x2="%d" y2="%.0f" class="axis"/>`, chartLeft, float64(chartTop)+plotH, chartW-4, float64(chartTop)+plotH)
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="label" text-anchor="end">%.1f</text>`, chartLeft-4, chartTop+8, peak)
	fmt.Fprintf(&sb, `<text x="%d" y="%.0f" class="label" text-anchor="end">0</text>`, chartLeft-4, float64(chartTop)+plotH)
	for i, b := range bs {
		h := b.PerMinute() / scale * plotH
		x := float64(chartLeft) + float64(i)*barW
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%s: %.1f/min</title></rect>`,
			x+1, float64(chartTop)+plotH-h, max(barW-2, 1), h, b.Start.UTC().Format("15:04"), b.PerMinute())
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="label">%s ago</text>`, chartLeft, chartH-6, span)
	fmt.Fprintf(&sb, `<text x="%d" y="%d" class="label" text-anchor="end">now</text>`, chartW-4, chartH-6)
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()) // every interpolated value is a number or escaped
}

// chartSVG serves a product's chart alone, for embedding elsewhere.
func (c *Console) chartSVG(w http.ResponseWriter, r *http.Request) {
	e, err := c.cfg.Catalog.Product(r.Context(), r.PathValue("name"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	bs, err := eventBuckets(r.Context(), c.cfg.JetStream, e.Descriptor.GetStream(), c.cfg.Now())
	if err != nil {
		http.Error(w, "stream unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write([]byte(drawChart(bs)))
}
