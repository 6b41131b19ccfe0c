package dataproduct

import (
	"meshwork.dev/platform/dataproduct/rules"

	"context"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"meshwork.dev/platform/errs"
)

// CloudEvents NATS binding (binary mode) headers carried by every event, plus the
// de-duplication header.
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderSource      = "ce-source"
	HeaderType        = "ce-type"
	HeaderTime        = "ce-time"
	HeaderSubject     = "ce-subject"
	HeaderDataSchema  = "ce-dataschema"
	HeaderContentType = "content-type"
	HeaderMsgID       = jetstream.MsgIDHeader
)

// Header values fixed for every event.
const (
	SpecVersion = "1.0"
	ContentType = "application/protobuf"
)

// PublishOption adjusts one event.
type PublishOption func(*eventOptions)

type eventOptions struct {
	id   string
	time time.Time
}

// WithEventID sets the event id (ce-id and Nats-Msg-Id) instead of a fresh UUIDv7. Use it
// when the id comes from elsewhere (an outbox row, a retried request), so that the stream's
// duplicate window drops a second publication of the same event.
func WithEventID(id string) PublishOption {
	return func(o *eventOptions) { o.id = id }
}

// WithEventTime sets ce-time instead of the current time.
func WithEventTime(t time.Time) PublishOption {
	return func(o *eventOptions) { o.time = t }
}

// envelope holds the header values that are the same for every event of one product. The
// one-element slices are shared, read-only, by every header built from it; their capacity is
// their length, so an append by a later Add copies instead of writing into them.
type envelope struct {
	id          string // product id
	prefix      string // dp.<id>.
	typeName    string // full message name
	specVersion []string
	source      []string
	typ         []string
	dataSchema  []string
	contentType []string
	rules       *rules.Set // nil without rules
}

// newEnvelope validates p and precomputes its fixed header values.
func newEnvelope(p Product) (*envelope, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	one := func(s string) []string { return []string{s} }
	var set *rules.Set
	if len(p.Rules) > 0 {
		var err error
		// Validate compiled them already; this cannot fail.
		if set, err = rules.Compile(p.Message, p.Rules); err != nil {
			return nil, err
		}
	}
	return &envelope{
		rules:       set,
		id:          p.ID(),
		prefix:      p.subjectPrefix(),
		typeName:    p.messageName(),
		specVersion: one(SpecVersion),
		source:      one("/domains/" + p.Domain),
		typ:         one(p.messageName()),
		dataSchema:  one(p.SchemaRef()),
		contentType: one(ContentType),
	}, nil
}

// build encodes msg as an event on key: subject, CloudEvents headers and W3C trace context
// from ctx. The headers go into h, which must be empty, or a new map if h is nil. It fails
// with errs.Invalid for a bad key, a missing message, a payload of another type than the
// product's, or a payload failing a rule with the reject policy (the violation's field is
// "rules.<rule id>"). Violations of other policies are not recorded here: build has no
// connection, so consumers count and dead-letter them.
func (e *envelope) build(ctx context.Context, op, key string, msg proto.Message, opts []PublishOption, h nats.Header) (*nats.Msg, error) {
	if _, err := e.check(op, key, msg); err != nil {
		return nil, err
	}
	return e.assemble(ctx, op, key, msg, opts, h)
}

// check validates key and msg and evaluates the product's rules: it returns every rule msg
// fails and, if any of them has the reject policy, an errs.Invalid error naming each such
// rule as a violation of field "rules.<id>".
func (e *envelope) check(op, key string, msg proto.Message) ([]rules.Violation, error) {
	if err := ValidKey(key); err != nil {
		return nil, errs.Wrap(op, err)
	}
	if msg == nil {
		return nil, errs.BadRequest(op, errs.Violation{Field: "msg", Description: "must not be nil"})
	}
	if got := msg.ProtoReflect().Descriptor().FullName(); string(got) != e.typeName {
		return nil, errs.BadRequest(op, errs.Violation{Field: "msg", Description: "is a " + string(got) + ", the product carries " + e.typeName})
	}
	vs := e.rules.Check(msg, key)
	var rejected []errs.Violation
	for _, v := range vs {
		if v.Rule.Policy == rules.Reject {
			rejected = append(rejected, errs.Violation{Field: "rules." + v.Rule.ID, Description: v.String()})
		}
	}
	if len(rejected) > 0 {
		return vs, errs.BadRequest(op, rejected...)
	}
	return vs, nil
}

// assemble builds the message of an already checked payload.
func (e *envelope) assemble(ctx context.Context, op, key string, msg proto.Message, opts []PublishOption, h nats.Header) (*nats.Msg, error) {
	var o eventOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.time.IsZero() {
		o.time = time.Now()
	}
	data, err := proto.Marshal(msg)
	if err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "encode %s: %w", e.typeName, err)
	}
	// The subject, id and time share one string allocation; the header slices and the
	// message share another.
	var scratch [160]byte
	buf := append(scratch[:0], e.prefix...)
	buf = append(buf, key...)
	subjectEnd := len(buf)
	if o.id != "" {
		buf = append(buf, o.id...)
	} else {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, errs.Errorf(op, errs.Internal, "event id: %w", err)
		}
		buf = appendUUID(buf, id)
	}
	idEnd := len(buf)
	buf = o.time.UTC().AppendFormat(buf, time.RFC3339Nano)
	str := string(buf)

	ev := &outgoing{vals: [3]string{str[subjectEnd:idEnd], str[idEnd:], key}}
	if h == nil {
		h = newHeader()
	}
	// Exactly eventHeaders keys, all always set (see Publisher.recycle).
	h[HeaderSpecVersion] = e.specVersion
	h[HeaderID] = ev.vals[0:1:1]
	h[HeaderMsgID] = ev.vals[0:1:1]
	h[HeaderSource] = e.source
	h[HeaderType] = e.typ
	h[HeaderTime] = ev.vals[1:2:2]
	h[HeaderSubject] = ev.vals[2:3:3]
	h[HeaderDataSchema] = e.dataSchema
	h[HeaderContentType] = e.contentType
	injectTrace(ctx, h)
	ev.msg = nats.Msg{Subject: str[:subjectEnd], Header: h, Data: data}
	return &ev.msg, nil
}

// eventHeaders is the number of headers build always sets.
const eventHeaders = 9

// newHeader makes a header map with room for the event headers and trace context.
func newHeader() nats.Header { return make(nats.Header, 12) }

// outgoing is an event's message and the backing array of its per-event header values,
// allocated together.
type outgoing struct {
	msg  nats.Msg
	vals [3]string
}

// appendUUID appends the canonical 36-character form of id.
func appendUUID(buf []byte, id uuid.UUID) []byte {
	const hex = "0123456789abcdef"
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hex[b>>4], hex[b&0x0f])
	}
	return buf
}

// NewMessage builds the complete event p would publish for msg on key — subject, payload,
// CloudEvents headers, Nats-Msg-Id and trace context from ctx — without sending it. The
// outbox stores it with the business change and relays it later with
// jetstream.PublishMsg; the id in ce-id / Nats-Msg-Id makes the relay's retries harmless.
// Header value slices may be shared between messages: replace values, never write into them.
// A payload failing a reject rule is refused (errs.Invalid naming the rule), so the outbox
// transaction fails with it and no change commits without a valid event.
func NewMessage(ctx context.Context, p Product, key string, msg proto.Message, opts ...PublishOption) (*nats.Msg, error) {
	const op = "dataproduct.NewMessage"
	env, err := newEnvelope(p)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return env.build(ctx, op, key, msg, opts, nil)
}

// Builder builds the events of one product exactly as NewMessage does, with the product
// validated once instead of per event: for producers that derive many events, such as a
// stream processor.
type Builder struct {
	env *envelope
}

// NewBuilder validates p and returns the builder of its events.
func NewBuilder(p Product) (*Builder, error) {
	env, err := newEnvelope(p)
	if err != nil {
		return nil, errs.Wrap("dataproduct.NewBuilder", err)
	}
	return &Builder{env: env}, nil
}

// Message is NewMessage for the builder's product.
func (b *Builder) Message(ctx context.Context, key string, msg proto.Message, opts ...PublishOption) (*nats.Msg, error) {
	return b.env.build(ctx, "dataproduct.Builder.Message", key, msg, opts, nil)
}
