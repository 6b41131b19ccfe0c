package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// heartbeat keeps idle event streams open through proxies.
const heartbeat = 15 * time.Second

// tailFilter is what a live events request asks for.
type tailFilter struct {
	Source, Type, Subject string
	// Since replays from a time; After resumes after a sequence (Last-Event-ID). Neither:
	// only new events.
	Since time.Time
	After uint64
}

// keyPattern is a subject key: one NATS subject token, no wildcards.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_:@=+-][A-Za-z0-9_:@=+.-]*$`)

// parseTail reads the filter, or returns an errs.Invalid error naming the bad parameter.
func parseTail(r *http.Request) (tailFilter, error) {
	const op = "web.events"
	q := r.URL.Query()
	f := tailFilter{Source: strings.TrimSpace(q.Get("source")), Type: strings.TrimSpace(q.Get("type")), Subject: strings.TrimSpace(q.Get("subject"))}
	if f.Subject != "" && (!keyPattern.MatchString(f.Subject) || strings.Contains(f.Subject, "..")) {
		return f, errs.BadRequest(op, errs.Violation{Field: "subject", Description: "must be one subject key (letters, digits, _ - : @ = + .), without wildcards"})
	}
	if s := strings.TrimSpace(q.Get("since")); s != "" {
		t, err := parseTime(s)
		if err != nil {
			return f, errs.BadRequest(op, errs.Violation{Field: "since", Description: "must be a time like 2026-01-02T15:04 (UTC) or RFC 3339"})
		}
		f.Since = t
	}
	after := q.Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		after = id
	}
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			return f, errs.BadRequest(op, errs.Violation{Field: "after", Description: "must be a stream sequence number"})
		}
		f.After = n
	}
	return f, nil
}

// parseTime accepts RFC 3339 or the datetime-local form (read as UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

// liveEvent is one event as the page shows it.
type liveEvent struct {
	Seq      uint64          `json:"seq"`
	Time     string          `json:"time"`
	ID       string          `json:"id"`
	Source   string          `json:"source"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data,omitempty"`
	Error    string          `json:"error,omitempty"`
	Redacted []string        `json:"redacted,omitempty"`
}

// decoder turns payloads into JSON with the product's schema, PII cleared unless allowed.
type decoder struct {
	md      protoreflect.MessageDescriptor
	showPII bool
}

func (d decoder) decode(data []byte) (json.RawMessage, []string, error) {
	m := dynamicpb.NewMessage(d.md)
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, nil, err
	}
	var redacted []string
	if !d.showPII {
		redacted = redact(m, "")
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	return b, redacted, err
}

// redact clears every set PII field of m and its nested messages, returning their paths.
func redact(m protoreflect.Message, prefix string) []string {
	var out []string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		if marked, _ := schema.PII(fd); marked {
			m.Clear(fd)
			out = append(out, path)
			return true
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := range l.Len() {
				out = append(out, redact(l.Get(i).Message(), path+"[].")...)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				out = append(out, redact(mv.Message(), path+"{}.")...)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			out = append(out, redact(v.Message(), path+".")...)
		}
		return true
	})
	return out
}

// eventsData is the live events page's data.
type eventsData struct {
	Name, Stream, Subjects string
	Filter                 tailFilter
	SinceValue             string
	Redacted               bool
	HasPII                 bool
}

func (c *Console) eventsPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	e, err := c.cfg.Catalog.Product(r.Context(), name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var u *User
	if c.cfg.Identity != nil {
		if u = c.requireUser(w, r, "/products/"+name+"/events"); u == nil {
			return
		}
	}
	f, err := parseTail(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	pii, ok := c.mayRead(w, r, u, name)
	if !ok {
		return
	}
	d := eventsData{Name: name, Stream: e.Descriptor.GetStream(), Subjects: strings.Join(e.Descriptor.GetSubjects(), " "), Filter: f,
		HasPII: len(e.Descriptor.GetPiiFields()) > 0}
	d.Redacted = d.HasPII && !pii
	if !f.Since.IsZero() {
		d.SinceValue = f.Since.Format("2006-01-02T15:04")
	}
	c.render(w, r, "events", "Live events of "+name, "search", d)
}

// eventsStream sends the product's events as Server-Sent Events ("event: ce", the id is the
// stream sequence, so a reconnecting EventSource resumes where it stopped).
func (c *Console) eventsStream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	e, err := c.cfg.Catalog.Product(r.Context(), name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var u *User
	if c.cfg.Identity != nil {
		if u = c.user(r); u == nil {
			c.fail(w, r, errs.E("web.events", errs.Unauthenticated, "sign in to tail events"))
			return
		}
	}
	f, err := parseTail(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if c.cfg.JetStream == nil {
		c.fail(w, r, errs.E("web.events", errs.Unavailable, "JetStream is not configured"))
		return
	}
	p, err := schema.Load(e.Descriptor.GetSchema())
	if err != nil {
		c.fail(w, r, errs.Wrap("web.events", err))
		return
	}
	pii, ok := c.mayRead(w, r, u, name)
	if !ok {
		return
	}
	dec := decoder{md: p.Message, showPII: len(e.Descriptor.GetPiiFields()) == 0 || pii}
	cons, err := c.cfg.JetStream.OrderedConsumer(r.Context(), e.Descriptor.GetStream(), consumerConfig(e.Descriptor, f))
	if err != nil {
		c.fail(w, r, errs.E("web.events", errs.Unavailable, "stream "+e.Descriptor.GetStream()+": "+err.Error()))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		c.fail(w, r, errs.E("web.events", errs.Internal, "streaming is not supported by this server"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": tailing "+name+"\n\n")
	flusher.Flush()
	c.tail(r.Context(), w, flusher, cons, f, dec)
}

// consumerConfig starts an ordered consumer where f asks, on its subject key if it has one.
func consumerConfig(d *platformv1.DataProductDescriptor, f tailFilter) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy, InactiveThreshold: time.Minute}
	switch {
	case f.After > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.After+1
	case !f.Since.IsZero():
		since := f.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	if f.Subject != "" {
		for _, s := range d.GetSubjects() {
			if strings.HasSuffix(s, ".>") {
				cfg.FilterSubjects = append(cfg.FilterSubjects, strings.TrimSuffix(s, ">")+f.Subject)
			}
		}
	}
	return cfg
}

// tail writes events until the client goes away.
func (c *Console) tail(ctx context.Context, w http.ResponseWriter, flusher http.Flusher, cons jetstream.Consumer, f tailFilter, dec decoder) {
	msgs, err := cons.Messages()
	if err != nil {
		_, _ = fmt.Fprintf(w, "event: failure\ndata: %s\n\n", jsonString(err.Error()))
		flusher.Flush()
		return
	}
	defer msgs.Stop()
	out := make(chan jetstream.Msg)
	go func() {
		defer close(out)
		for {
			m, err := msgs.Next()
			if err != nil {
				return
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_, _ = fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		case m, ok := <-out:
			if !ok {
				return
			}
			ev, keep := event(m, f, dec)
			if !keep {
				continue
			}
			b, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "event: ce\nid: %d\ndata: %s\n\n", ev.Seq, b); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// event decodes m, reporting false when f filters it out.
func event(m jetstream.Msg, f tailFilter, dec decoder) (liveEvent, bool) {
	h := m.Headers()
	ev := liveEvent{ID: h.Get(dataproduct.HeaderID), Source: h.Get(dataproduct.HeaderSource), Type: h.Get(dataproduct.HeaderType),
		Subject: h.Get(dataproduct.HeaderSubject), Time: h.Get(dataproduct.HeaderTime)}
	if (f.Source != "" && ev.Source != f.Source) || (f.Type != "" && ev.Type != f.Type) {
		return ev, false
	}
	if md, err := m.Metadata(); err == nil {
		ev.Seq = md.Sequence.Stream
		if ev.Time == "" {
			ev.Time = md.Timestamp.UTC().Format(time.RFC3339Nano)
		}
	}
	data, redacted, err := dec.decode(m.Data())
	if err != nil {
		ev.Error = "payload does not decode with the product's schema: " + err.Error()
	} else {
		ev.Data, ev.Redacted = data, redacted
	}
	return ev, true
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
