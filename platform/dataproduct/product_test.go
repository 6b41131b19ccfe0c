package dataproduct_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

func cleanReadings() dataproduct.Product {
	return dataproduct.Product{
		Domain: "quality", Name: "clean-readings", Major: 1, Owner: "quality-team",
		Message: &wrapperspb.DoubleValue{}, Classification: dataproduct.ClassInternal,
	}
}

func TestProductNames(t *testing.T) {
	t.Parallel()
	p := cleanReadings()
	subject, err := p.Subject("machine-42")
	if err != nil {
		t.Fatalf("Subject: %v", err)
	}
	tests := []struct{ name, got, want string }{
		{"ID", p.ID(), "quality.clean-readings.v1"},
		{"StreamName", p.StreamName(), "QUALITY_CLEAN_READINGS_V1"},
		{"Subject", subject, "dp.quality.clean-readings.v1.machine-42"},
		{"SubjectFilter", p.SubjectFilter(), "dp.quality.clean-readings.v1.>"},
		{"DurableName", p.DurableName("scheduling"), "scheduling--quality_clean-readings_v1"},
		{"DeadLetterSubject", p.DeadLetterSubject("scheduling"), "dlq.scheduling.quality.clean-readings.v1"},
		{"SchemaRef", p.SchemaRef(), "urn:meshwork:schema:quality.clean-readings.v1:google.protobuf.DoubleValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key string
		ok  bool
	}{
		{"machine-42", true},
		{"M_7:a", true},
		{"", false},
		{"a.b", false},
		{"a b", false},
		{"*", false},
		{">", false},
		{"a\tb", false},
		{"ü", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			err := dataproduct.ValidKey(tt.key)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if err != nil && !errs.Is(err, errs.Invalid) {
				t.Fatalf("ValidKey(%q) kind = %v, want invalid", tt.key, errs.KindOf(err))
			}
		})
	}
}

func TestProductValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*dataproduct.Product)
		field  string // "" means valid
	}{
		{"valid", func(*dataproduct.Product) {}, ""},
		{"domain not kebab", func(p *dataproduct.Product) { p.Domain = "Quality" }, "Domain"},
		{"name with dot", func(p *dataproduct.Product) { p.Name = "clean.readings" }, "Name"},
		{"major zero", func(p *dataproduct.Product) { p.Major = 0 }, "Major"},
		{"no owner", func(p *dataproduct.Product) { p.Owner = " " }, "Owner"},
		{"no message", func(p *dataproduct.Product) { p.Message = nil }, "Message"},
		{"unknown classification", func(p *dataproduct.Product) { p.Classification = "secret" }, "Classification"},
		{"negative retention", func(p *dataproduct.Product) { p.Retention = -time.Hour }, "Retention"},
		{"duplicate window beyond retention", func(p *dataproduct.Product) {
			p.Retention, p.DuplicateWindow = time.Hour, 2*time.Hour
		}, "DuplicateWindow"},
		{"too many replicas", func(p *dataproduct.Product) { p.Replicas = 7 }, "Replicas"},
		{"bad upstream", func(p *dataproduct.Product) { p.Upstreams = []string{"quality.raw"} }, "Upstreams[0]"},
		{"blank tag", func(p *dataproduct.Product) { p.Tags = []string{"ok", ""} }, "Tags[1]"},
		{"bad served-by", func(p *dataproduct.Product) { p.ServedBy = []string{"a b"} }, "ServedBy[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := cleanReadings()
			tt.change(&p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid {
				t.Fatalf("Validate = %v, want an errs.Invalid error", err)
			}
			for _, v := range e.Violations {
				if v.Field == tt.field {
					return
				}
			}
			t.Fatalf("Validate = %v, want a violation of %s", err, tt.field)
		})
	}
}

func TestNewMessage(t *testing.T) {
	t.Parallel()
	p := cleanReadings()
	at := time.Date(2026, 3, 4, 5, 6, 7, 891, time.FixedZone("X", 3600))
	m, err := dataproduct.NewMessage(context.Background(), p, "machine-42", wrapperspb.Double(20.5),
		dataproduct.WithEventID("evt-1"), dataproduct.WithEventTime(at))
	if err != nil {
		t.Fatalf("NewMessage: %v", err)
	}
	if m.Subject != "dp.quality.clean-readings.v1.machine-42" {
		t.Errorf("subject = %q", m.Subject)
	}
	want := map[string]string{
		"ce-specversion": "1.0",
		"ce-id":          "evt-1",
		"Nats-Msg-Id":    "evt-1",
		"ce-source":      "/domains/quality",
		"ce-type":        "google.protobuf.DoubleValue",
		"ce-time":        "2026-03-04T04:06:07.000000891Z",
		"ce-subject":     "machine-42",
		"ce-dataschema":  "urn:meshwork:schema:quality.clean-readings.v1:google.protobuf.DoubleValue",
		"content-type":   "application/protobuf",
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	var got wrapperspb.DoubleValue
	if err := proto.Unmarshal(m.Data, &got); err != nil || got.GetValue() != 20.5 {
		t.Errorf("payload = %v (%v), want 20.5", &got, err)
	}

	// A fresh id is a UUIDv7 (version nibble 7) and differs per event.
	a, _ := dataproduct.NewMessage(context.Background(), p, "k", wrapperspb.Double(1))
	b, _ := dataproduct.NewMessage(context.Background(), p, "k", wrapperspb.Double(1))
	ida, idb := a.Header.Get("ce-id"), b.Header.Get("ce-id")
	ua, err := uuid.Parse(ida)
	if err != nil || ua.Version() != 7 || ua.String() != ida || ida == idb {
		t.Errorf("generated ids %q, %q (%v): want distinct canonical UUIDv7s", ida, idb, err)
	}
}

// TestBuilderMatchesNewMessage: a Builder builds byte for byte the message NewMessage builds,
// and refuses an invalid product once, at NewBuilder.
func TestBuilderMatchesNewMessage(t *testing.T) {
	t.Parallel()
	p := cleanReadings()
	at := time.Date(2026, 3, 4, 5, 6, 7, 891, time.UTC)
	opts := []dataproduct.PublishOption{dataproduct.WithEventID("evt-1"), dataproduct.WithEventTime(at)}
	want, err := dataproduct.NewMessage(context.Background(), p, "machine-42", wrapperspb.Double(20.5), opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dataproduct.NewBuilder(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Message(context.Background(), "machine-42", wrapperspb.Double(20.5), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != want.Subject || !reflect.DeepEqual(got.Header, want.Header) || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("Builder.Message = %s %v %x, NewMessage = %s %v %x", got.Subject, got.Header, got.Data, want.Subject, want.Header, want.Data)
	}
	if _, err := b.Message(context.Background(), "a.b", wrapperspb.Double(1)); errs.KindOf(err) != errs.Invalid {
		t.Errorf("bad key: %v, want Invalid", err)
	}
	if _, err := dataproduct.NewBuilder(dataproduct.Product{Domain: "x"}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("invalid product: %v, want Invalid", err)
	}
}

func TestNewMessageRejects(t *testing.T) {
	t.Parallel()
	p := cleanReadings()
	tests := []struct {
		name string
		p    dataproduct.Product
		key  string
		msg  proto.Message
	}{
		{"wrong payload type", p, "k", &structpb.Struct{}},
		{"nil payload", p, "k", nil},
		{"key with dot", p, "a.b", wrapperspb.Double(1)},
		{"empty key", p, "", wrapperspb.Double(1)},
		{"invalid product", dataproduct.Product{Domain: "x"}, "k", wrapperspb.Double(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dataproduct.NewMessage(context.Background(), tt.p, tt.key, tt.msg)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("NewMessage = %v, want an invalid-argument error", err)
			}
			if !strings.HasPrefix(err.Error(), "dataproduct.") {
				t.Errorf("error %q lacks the op prefix", err)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	cause := errors.New("no such machine")
	wrapped := fmt.Errorf("handle: %w", dataproduct.Permanent(cause))
	if !dataproduct.IsPermanent(wrapped) || !errors.Is(wrapped, cause) {
		t.Errorf("IsPermanent/Is on %v: want both true", wrapped)
	}
	if dataproduct.IsPermanent(cause) || dataproduct.Permanent(nil) != nil {
		t.Error("a plain error is permanent, or Permanent(nil) is not nil")
	}
}
