package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/launcher"
	"meshwork.dev/platform/meshctl/credstore"
	"meshwork.dev/platform/meshctl/totp"
)

// saved reads the session saved for addr, failing t unless the file is 0600 in a 0700 dir.
func (c *cli) saved() (credstore.Session, bool) {
	c.t.Helper()
	for path, mode := range map[string]os.FileMode{c.creds: 0o600, filepath.Dir(c.creds): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			c.t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			c.t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	sess, ok, err := credstore.Open(c.creds).Get(c.addr)
	if err != nil {
		c.t.Fatal(err)
	}
	return sess, ok
}

func TestLogin(t *testing.T) {
	t.Parallel()
	t.Run("password and TOTP", func(t *testing.T) {
		t.Parallel()
		c, f := newCLI(t)
		r := c.run("ada@example.com\npw\n"+c.code()+"\n", "login")
		r.wantCode(t, 0)
		if want := "logged in to " + c.addr + " as ada@example.com (session saved in " + c.creds + ")\n"; r.stdout != want || r.stderr != "" {
			t.Errorf("stdout %q, stderr %q; want %q and nothing", r.stdout, r.stderr, want)
		}
		req, _ := f.last()
		if want := (&identityv1.LoginRequest{Email: "ada@example.com", Password: "pw", TotpCode: c.code()}); !proto.Equal(req, want) {
			t.Errorf("login request %v, want %v", req, want)
		}
		sess, ok := c.saved()
		want := credstore.Session{Email: "ada@example.com", AccessToken: "access-1", AccessTokenExpiresAt: fixedNow.Add(15 * time.Minute),
			RefreshToken: "refresh-1", RefreshTokenExpiresAt: fixedNow.Add(24 * time.Hour)}
		if !ok || sess != want {
			t.Errorf("saved %+v, want %+v", sess, want)
		}
	})
	t.Run("recovery code", func(t *testing.T) {
		t.Parallel()
		c, f := newCLI(t)
		r := c.run("pw\n", "login", "--email", "ada@example.com", "--recovery-code", "rc-1", "-o", "json")
		r.wantCode(t, 0)
		var out map[string]string
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["email"] != "ada@example.com" || out["credentials"] != c.creds {
			t.Errorf("login -o json printed %q (%v)", r.stdout, err)
		}
		if req, _ := f.last(); !proto.Equal(req, &identityv1.LoginRequest{Email: "ada@example.com", Password: "pw", RecoveryCode: "rc-1"}) {
			t.Errorf("login request %v", req)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		c, _ := newCLI(t)
		r := c.run("nope\n"+c.code()+"\n", "login", "--email", "ada@example.com")
		r.wantCode(t, 1)
		if want := "meshctl: login: unauthenticated: invalid credentials\n"; r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
		if _, err := os.Stat(c.creds); !os.IsNotExist(err) {
			t.Errorf("a refused login saved something: %v", err)
		}
	})
	t.Run("no password", func(t *testing.T) {
		t.Parallel()
		c, _ := newCLI(t)
		r := c.run("", "login", "--email", "ada@example.com")
		r.wantCode(t, 2)
		r.wantErrLine(t, "meshctl: no password given")
	})
}

// TestFirstLogin walks through a new user's first login: TOTP enrolment when identity asks for
// it (the secret shown, a code confirming it, the recovery codes printed), the one-time password
// replaced, and a login with the new password and the app's next code.
func TestFirstLogin(t *testing.T) {
	t.Parallel()
	for _, enrolled := range []bool{false, true} {
		t.Run(map[bool]string{false: "no TOTP yet", true: "TOTP enrolled, password not changed"}[enrolled], func(t *testing.T) {
			t.Parallel()
			c, f := newCLI(t)
			f.mu.Lock()
			f.newEnrolled = enrolled
			f.mu.Unlock()
			first := c.code()
			c.clock.advance(totp.Step) // the fake moves its clock on when the password changes
			second := c.code()
			c.clock.advance(-totp.Step)
			stdin := "otp\n\n" + first + "\nnew-pw\nnew-pw\n" + second + "\n"
			if enrolled {
				stdin = "otp\n" + first + "\nnew-pw\nnew-pw\n" + second + "\n"
			}
			r := c.run(stdin, "login", "--email", "new@example.com")
			r.wantCode(t, 0)
			wants := []string{"Choose your own password to replace the one-time password.\n"}
			if !enrolled {
				wants = append(wants, "new@example.com has no TOTP yet. Add this to an authenticator app:\n  otpauth://totp/Meshwork:new@example.com?secret="+totpSecret+"\n",
					"TOTP enrolled. Recovery codes, each usable once instead of a code (keep them safe):\n  rc-a\n  rc-b\n")
			}
			for _, want := range wants {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if !strings.HasPrefix(r.stdout, "logged in to "+c.addr+" as new@example.com") {
				t.Errorf("stdout %q", r.stdout)
			}
			if n, want := f.count(&identityv1.ConfirmTotpEnrollmentRequest{}), map[bool]int{false: 1, true: 0}[enrolled]; n != want {
				t.Errorf("%d confirmations, want %d", n, want)
			}
			f.mu.Lock()
			if f.newPassword != "new-pw" {
				t.Errorf("password changed to %q, want new-pw", f.newPassword)
			}
			f.mu.Unlock()
			if req, bearer := f.last(); !proto.Equal(req, &identityv1.LoginRequest{Email: "new@example.com", Password: "new-pw", TotpCode: second}) || bearer != "" {
				t.Errorf("last request %v with %q, want the login with the new password and the next code", req, bearer)
			}
			if sess, _ := c.saved(); sess.AccessToken != "access-1" || sess.Email != "new@example.com" {
				t.Errorf("saved %+v", sess)
			}
		})
	}
	c, _ := newCLI(t)
	r := c.run("otp\n\n"+c.code()+"\nnew-pw\nother-pw\n", "login", "--email", "new@example.com")
	r.wantCode(t, 2)
	if !strings.HasSuffix(r.stderr, "\nmeshctl: login: the new passwords differ\n") {
		t.Errorf("stderr %q does not end with the mismatch", r.stderr)
	}
}

func TestLoginDev(t *testing.T) {
	t.Parallel()
	writeAdmin := func(t *testing.T, admin launcher.AdminCredentials) string {
		dir := t.TempDir()
		b, _ := json.Marshal(admin)
		if err := os.WriteFile(filepath.Join(dir, launcher.AdminFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	c, f := newCLI(t)
	dir := writeAdmin(t, launcher.AdminCredentials{Email: "ada@example.com", Password: "pw", TOTPSecret: totpSecret})
	r := c.run("", "login", "--dev", "--mesh-dir", dir)
	r.wantCode(t, 0)
	if req, _ := f.last(); !proto.Equal(req, &identityv1.LoginRequest{Email: "ada@example.com", Password: "pw", TotpCode: c.code()}) {
		t.Errorf("login request %v", req)
	}
	if sess, ok := c.saved(); !ok || sess.AccessToken != "access-1" {
		t.Errorf("saved %+v, %v", sess, ok)
	}

	// A second login in the same 30 s window: its code is spent, so meshctl waits for the next.
	r = c.run("", "login", "--dev", "--mesh-dir", dir)
	r.wantCode(t, 0)
	if !strings.Contains(r.stderr, "login refused; the TOTP code may have been used already: trying the next one in ") {
		t.Errorf("stderr %q lacks the wait", r.stderr)
	}
	if sess, _ := c.saved(); sess.AccessToken != "access-2" {
		t.Errorf("second --dev login saved %q, want access-2", sess.AccessToken)
	}

	r = c.run("", "login", "--dev", "--mesh-dir", t.TempDir())
	r.wantCode(t, 1)
	r.wantErrLine(t, "/admin.json: start the mesh with meshctl up (make run) first, or pass --mesh-dir")
	bad := writeAdmin(t, launcher.AdminCredentials{Email: "ada@example.com", Password: "pw"})
	r = c.run("", "login", "--dev", "--mesh-dir", bad)
	r.wantCode(t, 1)
	r.wantErrLine(t, "email, password or totp_secret missing")
}
