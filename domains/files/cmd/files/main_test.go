package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// waitLimit keeps a broken test from hanging; nothing asserts on durations.
const waitLimit = 60 * time.Second

// filesUnderTest is run() on port 0 against its own MongoDB database and NATS.
type filesUnderTest struct {
	grpcAddr, httpAddr string
	env                map[string]string
	iss                *authtest.Issuer
	client             filesv1.FilesServiceClient
}

func newKEK() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// baseEnv is a fresh environment: its own database, NATS and issuer.
func baseEnv(t *testing.T) (map[string]string, *authtest.Issuer) {
	m := testinfra.StartMongo(t)
	n := testinfra.StartNATS(t)
	iss := authtest.NewIssuer(t)
	return map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "error",
		"MONGODB_URI": m.URI + m.Database, "NATS_URL": n.URL, "CATALOG_ADDR": "127.0.0.1:1",
		"JWKS_URL": iss.JWKSURL(), "KEY_ENCRYPTION_KEY": newKEK(), "MAX_FILE_SIZE": "209715200",
	}, iss
}

func start(t *testing.T, env map[string]string, iss *authtest.Issuer) *filesUnderTest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(service.NotifyServing(ctx, func(g, h string) { addrs <- [2]string{g, h} }), func(k string) string { return env[k] })
	}()
	var a [2]string
	select {
	case a = <-addrs:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run after shutdown: %v", err)
			}
		})
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(waitLimit):
		cancel()
		t.Fatal("files did not start")
	}
	conn, err := grpc.NewClient(a[0], grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &filesUnderTest{grpcAddr: a[0], httpAddr: a[1], env: env, iss: iss, client: filesv1.NewFilesServiceClient(conn)}
}

// as returns a context carrying a token for subject with roles.
func (f *filesUnderTest) as(t *testing.T, subject string, roles ...string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*waitLimit)
	t.Cleanup(cancel)
	if subject == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.iss.Token(t, subject, roles, nil))
}

// upload sends data through the Upload stream in 1 MiB chunks.
func (f *filesUnderTest) upload(ctx context.Context, md *filesv1.UploadMetadata, data []byte) (*filesv1.File, error) {
	st, err := f.client.Upload(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&filesv1.UploadRequest{Part: &filesv1.UploadRequest_Metadata{Metadata: md}}); err != nil {
		return nil, err
	}
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		if err := st.Send(&filesv1.UploadRequest{Part: &filesv1.UploadRequest_Chunk{Chunk: data[:n]}}); err != nil {
			break // the server answered early; CloseAndRecv has its status
		}
		data = data[n:]
	}
	resp, err := st.CloseAndRecv()
	return resp.GetFile(), err
}

// download reads a file through the Download stream.
func (f *filesUnderTest) download(ctx context.Context, id string) ([]byte, error) {
	st, err := f.client.Download(ctx, &filesv1.DownloadRequest{FileId: id})
	if err != nil {
		return nil, err
	}
	var out []byte
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m.GetChunk()...)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// curl runs curl with args and returns its stdout; it fails the test if curl cannot run.
func curl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS", "--fail-with-body"}, args...)...).Output()
	return string(out), err
}

// wantCode fails unless err is a status with code.
func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// field is the first field violation in err's BadRequest details.
func field(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

func writeTemp(t *testing.T, data []byte) string {
	p := filepath.Join(t.TempDir(), "in.bin")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func withEnv(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
