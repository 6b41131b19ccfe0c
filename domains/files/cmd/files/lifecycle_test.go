package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/stream"
)

// TestRotateKEK uploads files, runs `files rotate-kek`, and reads every file back through a
// service started with the new KEK only.
func TestRotateKEK(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	ctx := f.as(t, "alice", "engineer")
	data := map[string][]byte{}
	for _, n := range []int{0, 1, 700 << 10} {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		up, err := f.upload(ctx, &filesv1.UploadMetadata{Name: "f", Size: int64(n), Store: true}, b)
		if err != nil {
			t.Fatal(err)
		}
		data[up.GetId()] = b
	}
	next := withEnv(env, "OLD_KEY_ENCRYPTION_KEY", env["KEY_ENCRYPTION_KEY"], "KEY_ENCRYPTION_KEY", newKEK())
	var out, errOut bytes.Buffer
	code, handled := command(context.Background(), []string{"rotate-kek"}, func(k string) string { return next[k] }, &out, &errOut)
	if !handled || code != 0 || !strings.Contains(out.String(), "rewrapped 3 data keys") {
		t.Fatalf("rotate-kek: %d %q %q", code, out.String(), errOut.String())
	}
	delete(next, "OLD_KEY_ENCRYPTION_KEY")
	g := start(t, next, iss)
	for id, want := range data {
		got, err := g.download(g.as(t, "alice", "engineer"), id)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after rotation: %v", id, err)
		}
	}
	if _, err := f.download(ctx, data2id(data)); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("the old KEK still reads after rotation: %v", err)
	}
}

func data2id(m map[string][]byte) string {
	for id := range m {
		return id
	}
	return ""
}

// TestEventsAndSweeper: every transition reaches files.file-events.v1 through the outbox
// relay, without content; the sweeper removes an expired pending upload.
func TestEventsAndSweeper(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, withEnv(env, "PENDING_TTL", "1ms", "SWEEP_INTERVAL", "50ms"), iss)
	ctx := f.as(t, "alice", "engineer")
	secret := []byte("SECRET-CONTENT-0123456789")
	up, err := f.upload(ctx, &filesv1.UploadMetadata{Name: "pending.txt", Size: int64(len(secret))}, secret)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(env["NATS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	want := map[filesv1.FileEventKind]bool{stream.Uploaded: true, stream.Expired: true}
	deadline := time.Now().Add(waitLimit)
	for len(want) > 0 && time.Now().Before(deadline) {
		s, err := js.Stream(ctx, stream.FileEvents.Descriptor().GetStream())
		if err == nil {
			for seq := uint64(1); ; seq++ {
				m, err := s.GetMsg(ctx, seq)
				if err != nil {
					break
				}
				if bytes.Contains(m.Data, secret) {
					t.Fatal("an event carries the content")
				}
				var ev filesv1.FileEvent
				if proto.Unmarshal(m.Data, &ev) == nil && ev.GetFileId() == up.GetId() {
					delete(want, ev.GetKind())
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(want) > 0 {
		t.Fatalf("events never published: %v", want)
	}
	if _, err := f.client.GetFile(ctx, &filesv1.GetFileRequest{FileId: up.GetId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("expired pending upload still there: %v", err)
	}
}

// TestConcurrentClients: many clients upload and read back at once.
func TestConcurrentClients(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for i := range 32 {
		ctx := f.as(t, "user"+string(rune('A'+i)), "engineer")
		wg.Go(func() {
			b := bytes.Repeat([]byte{byte(i)}, 100<<10+i)
			up, err := f.upload(ctx, &filesv1.UploadMetadata{Name: "c", Size: int64(len(b)), Sha256: sum(b), IdempotencyKey: "k", Store: true}, b)
			if err == nil {
				var got []byte
				if got, err = f.download(ctx, up.GetId()); err == nil && !bytes.Equal(got, b) {
					err = context.Canceled
				}
			}
			errc <- err
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
}
