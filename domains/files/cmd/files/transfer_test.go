package main

import (
	"bytes"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/presign"
)

// largeSize is the large file of the round trips.
const largeSize = 100 << 20

func payloads() map[string][]byte {
	large := make([]byte, largeSize)
	_, _ = rand.Read(large)
	return map[string][]byte{"empty": {}, "one": {'x'}, "large": large}
}

func TestRoundTripsThroughGRPC(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	ctx := f.as(t, "alice", "engineer")
	for name, data := range payloads() {
		md := &filesv1.UploadMetadata{Name: name + ".bin", ContentType: "image/png", Size: int64(len(data)), Sha256: sum(data), Store: true}
		up, err := f.upload(ctx, md, data)
		if err != nil {
			t.Fatalf("%s: upload: %v", name, err)
		}
		if up.GetSize() != int64(len(data)) || up.GetSha256() != sum(data) || up.GetState() != filesv1.FileState_FILE_STATE_STORED {
			t.Fatalf("%s: uploaded %v", name, up)
		}
		if up.GetDeclaredContentType() != "image/png" || up.GetContentType() == "image/png" {
			t.Fatalf("%s: content type %q (declared %q): the claim was trusted", name, up.GetContentType(), up.GetDeclaredContentType())
		}
		got, err := f.download(ctx, up.GetId())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: download differs (%d bytes, %v)", name, len(got), err)
		}
		if _, err := f.download(f.as(t, "bob", "engineer"), up.GetId()); err == nil {
			t.Fatalf("%s: bob downloaded alice's file", name)
		}
	}
}

func TestRoundTripsThroughPresignedURLs(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	ctx := f.as(t, "alice", "engineer")
	const name = `Prüfbericht "7"; final.pdf`
	for label, data := range payloads() {
		in := writeTemp(t, data)
		up, err := f.client.CreatePresignedUpload(ctx, &filesv1.CreatePresignedUploadRequest{Name: name, MaxSize: largeSize, Store: true})
		if err != nil {
			t.Fatalf("%s: presign upload: %v", label, err)
		}
		if out, err := curl(t, "-X", "PUT", "-T", in, up.GetUrl()); err != nil {
			t.Fatalf("%s: curl PUT: %v %s", label, err, out)
		}
		if _, err := curl(t, "-X", "PUT", "-T", in, up.GetUrl()); err == nil {
			t.Fatalf("%s: a presigned PUT URL worked twice", label)
		}
		down, err := f.client.CreatePresignedDownload(ctx, &filesv1.CreatePresignedDownloadRequest{FileId: up.GetFile().GetId()})
		if err != nil {
			t.Fatalf("%s: presign download: %v", label, err)
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "out.bin")
		headers, err := curl(t, "-D", "-", "-o", out, down.GetUrl())
		if err != nil {
			t.Fatalf("%s: curl GET: %v", label, err)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: GET returned %d bytes, want %d", label, len(got), len(data))
		}
		if !strings.Contains(headers, "filename*=UTF-8''Pr%C3%BCfbericht%20%227%22%3B%20final.pdf") {
			t.Fatalf("%s: Content-Disposition not safely encoded:\n%s", label, headers)
		}
		if len(data) > 10 {
			part, err := curl(t, "-r", "1000-1009", down.GetUrl())
			if err != nil || part != string(data[1000:1010]) {
				t.Fatalf("%s: range read: %v", label, err)
			}
		}
	}
}

func TestPresignedURLsRefused(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, env, iss)
	ctx := f.as(t, "alice", "engineer")
	up, err := f.client.CreatePresignedUpload(ctx, &filesv1.CreatePresignedUploadRequest{Name: "a.txt", MaxSize: 10, Store: true})
	if err != nil {
		t.Fatal(err)
	}
	in := writeTemp(t, []byte("hello"))
	u, _ := url.Parse(up.GetUrl())
	q := u.Query()
	q.Set("max", "1000") // tampered: a larger size than signed
	u.RawQuery = q.Encode()
	if _, err := curl(t, "-X", "PUT", "-T", in, u.String()); err == nil {
		t.Fatal("tampered PUT URL accepted")
	}
	if _, err := curl(t, "-X", "PUT", "-T", writeTemp(t, make([]byte, 11)), up.GetUrl()); err == nil {
		t.Fatal("PUT above the URL's maximum size accepted")
	}
	up2, _ := f.client.CreatePresignedUpload(ctx, &filesv1.CreatePresignedUploadRequest{Name: "b.txt", MaxSize: 10, Store: true})
	if _, err := curl(t, "-X", "PUT", "-T", in, up2.GetUrl()); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	if _, err := curl(t, "-X", "PUT", "-T", in, up2.GetUrl()); err == nil {
		t.Fatal("reused PUT URL accepted")
	}
	id := up2.GetFile().GetId()
	down, _ := f.client.CreatePresignedDownload(ctx, &filesv1.CreatePresignedDownloadRequest{FileId: id})
	if got, err := curl(t, down.GetUrl()); err != nil || got != "hello" {
		t.Fatalf("GET: %q %v", got, err)
	}
	other := up.GetFile().GetId()
	if _, err := curl(t, strings.Replace(down.GetUrl(), id, other, 1)); err == nil {
		t.Fatal("GET URL used for another file")
	}
	// Expired: a URL signed with the service's key for a time already past.
	raw, _ := crypt.DecodeKey(env["KEY_ENCRYPTION_KEY"])
	key, _ := presign.DeriveKey(raw)
	base := "http://" + f.httpAddr
	expired := presign.NewSigner(key, base).URL(presign.Grant{Method: "GET", FileID: id, Expires: time.Now().Add(-time.Minute)})
	if _, err := curl(t, expired); err == nil {
		t.Fatal("expired GET URL accepted")
	}
	valid := presign.NewSigner(key, base).URL(presign.Grant{Method: "GET", FileID: id, Expires: time.Now().Add(time.Minute)})
	if got, err := curl(t, valid); err != nil || got != "hello" {
		t.Fatalf("a URL signed like the expired one but valid fails: %v (the expiry test proves nothing)", err)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	env, iss := baseEnv(t)
	f := start(t, withEnv(env, "MAX_FILE_SIZE", "100", "OWNER_QUOTA", "150"), iss)
	ctx := f.as(t, "alice", "engineer")
	if _, err := f.upload(ctx, &filesv1.UploadMetadata{Name: "ok", Size: 100, Store: true}, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		md    *filesv1.UploadMetadata
		data  []byte
		code  codes.Code
		field string
	}{
		{"path separator", &filesv1.UploadMetadata{Name: "../x", Size: 1}, []byte{1}, codes.InvalidArgument, "metadata.name"},
		{"control char", &filesv1.UploadMetadata{Name: "a\x07b", Size: 1}, []byte{1}, codes.InvalidArgument, "metadata.name"},
		{"long name", &filesv1.UploadMetadata{Name: strings.Repeat("n", 256), Size: 1}, []byte{1}, codes.InvalidArgument, "metadata.name"},
		{"too big", &filesv1.UploadMetadata{Name: "big", Size: 101}, make([]byte, 101), codes.InvalidArgument, "metadata.size"},
		{"size mismatch", &filesv1.UploadMetadata{Name: "m", Size: 5}, make([]byte, 4), codes.InvalidArgument, "metadata.size"},
		{"checksum", &filesv1.UploadMetadata{Name: "c", Size: 1, Sha256: sum([]byte{2})}, []byte{1}, codes.InvalidArgument, "metadata.sha256"},
		{"quota", &filesv1.UploadMetadata{Name: "q", Size: 60}, make([]byte, 60), codes.ResourceExhausted, "metadata.size"},
	} {
		_, err := f.upload(ctx, tc.md, tc.data)
		wantCode(t, tc.name, err, tc.code)
		// The gateway sends field violations for InvalidArgument; other codes name the field in
		// the message.
		if got := field(err); got != tc.field && !(tc.code != codes.InvalidArgument && strings.HasPrefix(status.Convert(err).Message(), tc.field+":")) {
			t.Fatalf("%s: field %q, want %q (%v)", tc.name, got, tc.field, err)
		}
	}
	list, err := f.client.ListFiles(ctx, &filesv1.ListFilesRequest{})
	if err != nil || len(list.GetFiles()) != 1 {
		t.Fatalf("after refused uploads: %d files, %v", len(list.GetFiles()), err)
	}
}
