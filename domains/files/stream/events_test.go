package stream_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/governance/rule"
)

// TestProductPassesGovernance checks the declaration as the catalog will at registration.
func TestProductPassesGovernance(t *testing.T) {
	t.Parallel()
	if err := stream.FileEvents.Validate(); err != nil {
		t.Fatal(err)
	}
	d := stream.FileEvents.Descriptor()
	for _, f := range rule.Check(d) {
		t.Errorf("governance: %s", f)
	}
	if d.GetName() != "files.file-events.v1" {
		t.Errorf("descriptor %s", d.GetName())
	}
}

func TestMessageCarriesNoContentOrKeys(t *testing.T) {
	t.Parallel()
	f := &file.File{ID: "f1", Name: "report.pdf", OwnerID: "alice", Size: 3, SHA256: "abc", ContentType: "application/pdf"}
	msg, err := stream.Message(context.Background(), f, stream.Stored, "alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "dp.files.file-events.v1.f1" || msg.Header.Get("Nats-Msg-Id") == "" {
		t.Fatalf("subject %s, headers %v", msg.Subject, msg.Header)
	}
	var ev filesv1.FileEvent
	if err := proto.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetName() != "report.pdf" || ev.GetKind() != stream.Stored || ev.GetSize() != 3 {
		t.Fatalf("event %v", &ev)
	}
}
