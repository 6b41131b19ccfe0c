package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/testinfra"
)

// identity is the real identity service (domains/identity), built and run as its own process
// against Postgres, Redis and NATS from testinfra.
type identity struct {
	// httpURL serves /readyz and /metrics.
	httpURL string
	conn    *grpc.ClientConn
	api     identityv1.IdentityServiceClient
}

// account is an enrolled user who can sign in.
type account struct {
	// ID is the user's id, the subject of its tokens.
	ID                      string
	Email, Password, Secret string
	// used remembers the TOTP steps spent: identity accepts each step once per account.
	used map[int64]bool
	mu   sync.Mutex
}

// code returns a TOTP code of a step identity accepts (now or one either side) not yet used.
func (a *account) code(t testing.TB) string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used == nil {
		a.used = map[int64]bool{}
	}
	now := time.Now().Unix() / 30
	for _, step := range []int64{now, now + 1, now - 1} {
		if !a.used[step] {
			a.used[step] = true
			return totp(t, a.Secret, step)
		}
	}
	t.Fatalf("%s: every acceptable TOTP step is spent; wait for the next", a.Email)
	return ""
}

// totp is RFC 6238's code for a base32 secret at a 30-second step (HMAC-SHA1, 6 digits).
func totp(t testing.TB, secret string, step int64) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		t.Fatalf("totp secret: %v", err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	h := hmac.New(sha1.New, key)
	h.Write(msg[:])
	sum := h.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	n := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", n%1_000_000)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startIdentity builds identity, bootstraps its admin and serves it until t ends.
func startIdentity(t testing.TB, n *testinfra.NATS) (*identity, *account) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "identity")
	build := exec.Command("go", "build", "-o", bin, "meshwork.dev/domains/identity/cmd/identity")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build identity: %v\n%s", err, out)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	env := append(os.Environ(),
		"DATABASE_URL="+testinfra.StartPostgres(t).URL, "REDIS_URL="+testinfra.StartRedis(t).URL, "NATS_URL="+n.URL,
		"KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key), "GRPC_ADDR="+grpcAddr, "HTTP_ADDR="+httpAddr,
		"CATALOG_ADDR=127.0.0.1:1", "LOG_LEVEL=warn")
	boot := exec.Command(bin, "bootstrap-admin", "--email", "admin@example.com", "--json")
	boot.Env = env
	out, err := boot.Output()
	if err != nil {
		t.Fatalf("identity bootstrap-admin: %v", err)
	}
	admin := &account{}
	var creds struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Secret   string `json:"totp_secret"`
	}
	if err := json.Unmarshal(out, &creds); err != nil {
		t.Fatalf("bootstrap-admin output %q: %v", out, err)
	}
	admin.Email, admin.Password, admin.Secret = creds.Email, creds.Password, creds.Secret

	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("identity logs:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("identity not ready after 2 minutes: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &identity{httpURL: "http://" + httpAddr, conn: conn, api: identityv1.NewIdentityServiceClient(conn)}, admin
}

// enrolledUser creates a user with roles through the admin, then walks the user's first
// sign-in: change the one-time password and enrol TOTP, as a person would with meshctl.
func (id *identity) enrolledUser(t testing.TB, admin *account, email string, roles ...identityv1.Role) *account {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adminToken := id.login(t, admin)
	created, err := id.api.CreateUser(bearer(ctx, adminToken), &identityv1.CreateUserRequest{Email: email, DisplayName: strings.Split(email, "@")[0], Roles: roles})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", email, err)
	}
	first, err := id.api.Login(ctx, &identityv1.LoginRequest{Email: email, Password: created.GetOneTimePassword()})
	if err != nil {
		t.Fatalf("first Login %s: %v", email, err)
	}
	enrol := bearer(ctx, first.GetTokens().GetAccessToken())
	u := &account{ID: created.GetUser().GetId(), Email: email, Password: "correct horse battery " + email}
	if _, err := id.api.ChangePassword(enrol, &identityv1.ChangePasswordRequest{CurrentPassword: created.GetOneTimePassword(), NewPassword: u.Password}); err != nil {
		t.Fatalf("ChangePassword %s: %v", email, err)
	}
	begin, err := id.api.BeginTotpEnrollment(enrol, &identityv1.BeginTotpEnrollmentRequest{})
	if err != nil {
		t.Fatalf("BeginTotpEnrollment %s: %v", email, err)
	}
	uri, err := url.Parse(begin.GetOtpauthUri())
	if err != nil {
		t.Fatal(err)
	}
	u.Secret = uri.Query().Get("secret")
	if _, err := id.api.ConfirmTotpEnrollment(enrol, &identityv1.ConfirmTotpEnrollmentRequest{Code: u.code(t)}); err != nil {
		t.Fatalf("ConfirmTotpEnrollment %s: %v", email, err)
	}
	return u
}

// login signs a in over gRPC and returns the access token.
func (id *identity) login(t testing.TB, a *account) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := id.api.Login(ctx, &identityv1.LoginRequest{Email: a.Email, Password: a.Password, TotpCode: a.code(t)})
	if err != nil {
		t.Fatalf("Login %s: %v", a.Email, err)
	}
	return resp.GetTokens().GetAccessToken()
}

func bearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}
