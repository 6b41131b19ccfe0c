package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// Endpoint is a service the health page watches: its name and the base URL of its HTTP port
// (which serves /readyz and /metrics, see platform/service).
type Endpoint struct {
	Name, URL string
}

// serviceHealth is one service's readiness and key metrics.
type serviceHealth struct {
	Name, URL, Status string
	Ready             bool
	Checks            []check
	Metrics           []metricValue
	Err               string
}

type check struct {
	Name  string
	OK    bool
	Error string
}

// metricValue is one key metric summed over its label sets.
type metricValue struct {
	Name  string
	Value float64
}

// keyMetrics are the metric name prefixes the page shows (OpenTelemetry names as the
// Prometheus exporter spells them).
var keyMetrics = []string{
	"outbox_backlog_pending", "outbox_backlog_parked", "outbox_backlog_oldest_age",
	"outbox_events_published", "outbox_publish_failures",
}

// probe reads one service's /readyz and /metrics.
func (c *Console) probe(ctx context.Context, e Endpoint) serviceHealth {
	h := serviceHealth{Name: e.Name, URL: e.URL}
	base := strings.TrimSuffix(e.URL, "/")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		h.Status, h.Err = "unreachable", err.Error()
		return h
	}
	var body struct {
		Status string `json:"status"`
		Checks map[string]struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"checks"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	_ = resp.Body.Close()
	if err != nil {
		h.Status, h.Err = "unreadable", "readyz: "+err.Error()
		return h
	}
	h.Status, h.Ready = body.Status, resp.StatusCode == http.StatusOK && body.Status == "ready"
	for name, ch := range body.Checks {
		h.Checks = append(h.Checks, check{Name: name, OK: ch.OK, Error: ch.Error})
	}
	slices.SortFunc(h.Checks, func(a, b check) int { return strings.Compare(a.Name, b.Name) })
	h.Metrics, err = c.metrics(ctx, base+"/metrics")
	if err != nil {
		h.Err = "metrics: " + err.Error()
	}
	return h
}

// metrics sums the key metrics of a Prometheus text exposition.
func (c *Console) metrics(ctx context.Context, url string) ([]metricValue, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	return keyValues(bufio.NewScanner(resp.Body))
}

// keyValues reads "name{labels} value" lines, summing the key metrics by name.
func keyValues(sc *bufio.Scanner) ([]metricValue, error) {
	sums := map[string]float64{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			name = line[:i]
			if j := strings.LastIndexByte(line, '}'); j > i {
				rest = strings.TrimSpace(line[j+1:])
			}
		}
		key := ""
		for _, k := range keyMetrics {
			if strings.HasPrefix(name, k) {
				key = k
			}
		}
		if key == "" {
			continue
		}
		valueText, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		v, err := strconv.ParseFloat(valueText, 64)
		if err != nil {
			continue
		}
		sums[key] += v
	}
	out := make([]metricValue, 0, len(sums))
	for _, k := range keyMetrics {
		if v, ok := sums[k]; ok {
			out = append(out, metricValue{Name: k, Value: v})
		}
	}
	return out, sc.Err()
}

// productRate is a product's recent events per second.
type productRate struct {
	Name, Stream string
	PerSecond    float64
	Messages     uint64
}

// rateWindow is the span product rates are measured over.
const rateWindow = 5 * time.Minute

// deadLetters counts a dead-letter subject's messages.
type deadLetters struct {
	Subject string
	Count   uint64
}

// healthData is the health page's data.
type healthData struct {
	Services    []serviceHealth
	Rates       []productRate
	DeadLetters []deadLetters
	DeadTotal   uint64
	StreamsErr  string
	At          time.Time
}

func (c *Console) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	d := healthData{Services: make([]serviceHealth, len(c.cfg.Services)), At: c.cfg.Now()}
	var wg sync.WaitGroup
	for i, e := range c.cfg.Services {
		wg.Go(func() { d.Services[i] = c.probe(ctx, e) })
	}
	if err := c.streamHealth(ctx, &d); err != nil {
		d.StreamsErr = err.Error()
	}
	wg.Wait()
	c.render(w, r, "health", "Mesh health", "health", d)
}

// streamHealth fills the products' event rates and the dead letters by subject.
func (c *Console) streamHealth(ctx context.Context, d *healthData) error {
	js := c.cfg.JetStream
	if js == nil {
		return errors.New("JetStream is not configured")
	}
	sums, err := c.allProducts(ctx, "")
	if err != nil {
		return err
	}
	states, ok := c.streams.snapshot(ctx)
	if !ok {
		return errors.New("streams could not be listed")
	}
	from := d.At.Add(-rateWindow)
	for _, s := range sums {
		st, found := states[s.Stream]
		if !found {
			continue
		}
		pr := productRate{Name: s.Name, Stream: s.Stream, Messages: st.Msgs}
		if st.Msgs > 0 && st.LastTime.After(from) {
			first, err := seqAt(ctx, js, s.Stream, from, st.LastSeq)
			if err != nil {
				return err
			}
			pr.PerSecond = float64(st.LastSeq+1-first) / rateWindow.Seconds()
		}
		d.Rates = append(d.Rates, pr)
	}
	dlq, err := js.Stream(ctx, dataproduct.DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	info, err := dlq.Info(ctx, jetstream.WithSubjectFilter(dataproduct.DeadLetterPrefix+">"))
	if err != nil {
		return err
	}
	for subj, n := range info.State.Subjects {
		d.DeadLetters = append(d.DeadLetters, deadLetters{Subject: subj, Count: n})
		d.DeadTotal += n
	}
	slices.SortFunc(d.DeadLetters, func(a, b deadLetters) int { return strings.Compare(a.Subject, b.Subject) })
	return nil
}

// DefaultEndpoints are the mesh's services at the ports of the architecture (docs/architecture.md).
const DefaultEndpoints = "catalog=http://127.0.0.1:8000,identity=http://127.0.0.1:8001,files=http://127.0.0.1:8002," +
	"quality=http://127.0.0.1:8003,logistics=http://127.0.0.1:8004,scheduling=http://127.0.0.1:8005"

// ParseEndpoints reads "name=http://host:port,…" (the CONSOLE_SERVICES setting). An entry
// without a name or with a URL that is not http(s) is an errs.Invalid error naming it.
func ParseEndpoints(s string) ([]Endpoint, error) {
	var out []Endpoint
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, u, ok := strings.Cut(entry, "=")
		name, u = strings.TrimSpace(name), strings.TrimSpace(u)
		if !ok || name == "" || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) || len(u) <= len("https://") {
			return nil, errs.BadRequest("web.ParseEndpoints", errs.Violation{
				Field:       "CONSOLE_SERVICES[" + strconv.Itoa(i) + "]",
				Description: "must be name=http://host:port, not " + strconv.Quote(entry),
			})
		}
		out = append(out, Endpoint{Name: name, URL: u})
	}
	return out, nil
}
