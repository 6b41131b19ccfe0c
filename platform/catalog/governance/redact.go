package governance

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/natsauth"
)

// HeaderView marks a message of a redacted view.
const HeaderView = "mesh-view"

// Redact replaces every PII field of m (and of its nested messages): strings and bytes by a
// keyed hash of their value ("pii:" and 22 characters of HMAC-SHA256 under key), so the same
// value hashes alike across products and still joins; other kinds are cleared. It returns the
// paths it redacted.
func Redact(m protoreflect.Message, key []byte, prefix string) []string {
	var out []string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		if marked, _ := schema.PII(fd); marked {
			out = append(out, path)
			switch {
			case fd.IsList() || fd.IsMap():
				m.Clear(fd)
			case fd.Kind() == protoreflect.StringKind:
				m.Set(fd, protoreflect.ValueOfString(Hash(key, []byte(v.String()))))
			case fd.Kind() == protoreflect.BytesKind:
				m.Set(fd, protoreflect.ValueOfBytes([]byte(Hash(key, v.Bytes()))))
			default:
				m.Clear(fd)
			}
			return true
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := range l.Len() {
				out = append(out, Redact(l.Get(i).Message(), key, path+"[].")...)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				out = append(out, Redact(mv.Message(), key, path+"{}.")...)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			out = append(out, Redact(v.Message(), key, path+".")...)
		}
		return true
	})
	return out
}

// Hash is the keyed hash that stands for a PII value in a redacted view.
func Hash(key, value []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(value)
	return "pii:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22]
}

// Redactor keeps, for every product with PII fields, its redacted view: a stream of its own
// (natsauth.ViewStream) that the governance service fills from the product's stream with the
// PII fields hashed. Consumers holding a grant without PII read the view, never the raw stream.
type Redactor struct {
	js  jetstream.JetStream
	key []byte
	log *slog.Logger
	mu  sync.Mutex
	on  map[string]context.CancelFunc // product id → its copier
}

// NewRedactor returns a redactor publishing through js and hashing under key.
func NewRedactor(js jetstream.JetStream, key []byte, log *slog.Logger) *Redactor {
	if log == nil {
		log = slog.Default()
	}
	return &Redactor{js: js, key: key, log: log, on: map[string]context.CancelFunc{}}
}

// Run keeps a copier running for every product products lists with PII fields, looking again
// every interval, until ctx ends.
func (r *Redactor) Run(ctx context.Context, products func(context.Context) ([]*platformv1.DataProductDescriptor, error), interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ds, err := products(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "redacted views: list products", "err", err)
		}
		for _, d := range ds {
			if len(d.GetPiiFields()) > 0 {
				r.ensure(ctx, d)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ensure starts d's copier if it is not running and d's stream exists.
func (r *Redactor) ensure(ctx context.Context, d *platformv1.DataProductDescriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.on[d.GetName()]; ok {
		return
	}
	src, err := r.js.Stream(ctx, d.GetStream())
	if err != nil {
		return // not provisioned yet: next round
	}
	info, err := src.Info(ctx)
	if err != nil {
		return
	}
	p, err := schema.Load(d.GetSchema())
	if err != nil {
		r.log.WarnContext(ctx, "redacted views: schema", "product", d.GetName(), "err", err)
		return
	}
	view := natsauth.ViewStream(d.GetName())
	if _, err := r.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: view, Description: "Redacted view of " + d.GetName() + ": PII fields replaced by keyed hashes",
		Subjects: []string{natsauth.ViewPrefix + d.GetName() + ".>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: info.Config.MaxAge, Duplicates: info.Config.Duplicates,
		Replicas: info.Config.Replicas, Metadata: map[string]string{"view-of": d.GetName(), "view": "redacted"},
	}); err != nil {
		r.log.WarnContext(ctx, "redacted views: stream", "view", view, "err", err)
		return
	}
	cons, err := r.js.CreateOrUpdateConsumer(ctx, d.GetStream(), jetstream.ConsumerConfig{
		Durable: dataproduct.DurableNameOf("governance", d.GetName()), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: -1, Description: "governance filling the redacted view " + view,
	})
	if err != nil {
		r.log.WarnContext(ctx, "redacted views: consumer", "product", d.GetName(), "err", err)
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	r.on[d.GetName()] = cancel
	md := p.Message
	cc, err := cons.Consume(func(m jetstream.Msg) { r.copy(cctx, d.GetName(), md, m) })
	if err != nil {
		cancel()
		delete(r.on, d.GetName())
		return
	}
	go func() { <-cctx.Done(); cc.Stop() }()
}

// copy republishes one event redacted; an event that does not decode is copied with an empty
// payload and a header saying so (never with its raw PII).
func (r *Redactor) copy(ctx context.Context, id string, md protoreflect.MessageDescriptor, m jetstream.Msg) {
	out := nats.NewMsg(natsauth.ViewPrefix + strings.TrimPrefix(m.Subject(), "dp."))
	for k, v := range m.Headers() {
		out.Header[k] = v
	}
	out.Header.Set(HeaderView, "redacted")
	msg := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(m.Data(), msg); err != nil {
		out.Header.Set(HeaderView, "redacted; payload withheld: it does not decode")
	} else {
		Redact(msg, r.key, "")
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		if err != nil {
			_ = m.NakWithDelay(time.Second)
			return
		}
		out.Data = b
	}
	if meta, err := m.Metadata(); err == nil && out.Header.Get(dataproduct.HeaderMsgID) == "" {
		out.Header.Set(dataproduct.HeaderMsgID, id+":"+itoa(meta.Sequence.Stream))
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(pctx, out); err != nil {
		if !errors.Is(err, context.Canceled) {
			r.log.Warn("redacted views: publish", "product", id, "err", err)
		}
		_ = m.NakWithDelay(time.Second)
		return
	}
	_ = m.Ack()
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
