package web_test

import (
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"

	"meshwork.dev/platform/catalog/web"
)

func muxOf(c *web.Console) *http.ServeMux {
	mux := http.NewServeMux()
	c.Register(mux)
	return mux
}

func natsMsg(subject string, data []byte) *nats.Msg {
	return &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
}

// payload builds d's payload message with the given string and double fields set.
func payload(t testing.TB, d *platformv1.DataProductDescriptor, values map[string]any) proto.Message {
	t.Helper()
	p, err := schema.Load(d.GetSchema())
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(p.Message)
	for name, v := range values {
		fd := p.Message.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			t.Fatalf("%s has no field %s", d.GetName(), name)
		}
		m.Set(fd, protoreflect.ValueOf(v))
	}
	return m
}
