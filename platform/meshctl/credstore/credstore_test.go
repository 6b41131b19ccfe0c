package credstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meshwork.dev/platform/meshctl/credstore"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// session returns a session whose access token expires in accessLeft.
func session(name string, accessLeft time.Duration) credstore.Session {
	return credstore.Session{Email: "ada@example.com", AccessToken: "access-" + name, AccessTokenExpiresAt: now.Add(accessLeft),
		RefreshToken: "refresh-" + name, RefreshTokenExpiresAt: now.Add(24 * time.Hour)}
}

func newStore(t *testing.T) *credstore.Store {
	t.Helper()
	return credstore.Open(filepath.Join(t.TempDir(), "config", "meshwork", "credentials.json"))
}

func TestPutGetDelete(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if _, ok, err := s.Get("127.0.0.1:7001"); ok || err != nil {
		t.Fatalf("Get on a new store = %v, %v; want nothing", ok, err)
	}
	a, b := session("a", time.Hour), session("b", time.Hour)
	if err := s.Put("127.0.0.1:7001", a); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("127.0.0.1:7101", b); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{s.Path(): 0o600, filepath.Dir(s.Path()): 0o700} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, mode)
		}
	}
	if got, ok, err := s.Get("127.0.0.1:7001"); !ok || err != nil || got != a {
		t.Errorf("Get = %+v, %v, %v; want %+v", got, ok, err, a)
	}
	if had, err := s.Delete("127.0.0.1:7001"); !had || err != nil {
		t.Errorf("Delete = %v, %v; want true", had, err)
	}
	if had, err := s.Delete("127.0.0.1:7001"); had || err != nil {
		t.Errorf("second Delete = %v, %v; want false", had, err)
	}
	if got, ok, _ := s.Get("127.0.0.1:7101"); !ok || got != b {
		t.Errorf("the other mesh's session is %+v, %v; want %+v", got, ok, b)
	}
}

func TestFresh(t *testing.T) {
	t.Parallel()
	rotated := credstore.Session{AccessToken: "access-2", AccessTokenExpiresAt: now.Add(15 * time.Minute),
		RefreshToken: "refresh-2", RefreshTokenExpiresAt: now.Add(24 * time.Hour)}
	errRefused := errors.New("refused")
	tests := []struct {
		name    string
		stored  *credstore.Session
		refresh error
		want    string // access token
		wantErr error
		spent   string // refresh token sent, if any
	}{
		{name: "not logged in", wantErr: credstore.ErrNotLoggedIn},
		{name: "valid", stored: new(session("1", time.Minute)), want: "access-1"},
		{name: "expires within 30s", stored: new(session("1", 29*time.Second)), want: "access-2", spent: "refresh-1"},
		{name: "expired", stored: new(session("1", -time.Hour)), want: "access-2", spent: "refresh-1"},
		{name: "refresh refused", stored: new(session("1", -time.Hour)), refresh: errRefused, wantErr: errRefused, spent: "refresh-1"},
		{name: "refresh token expired", stored: &credstore.Session{AccessToken: "a", AccessTokenExpiresAt: now.Add(-time.Hour),
			RefreshToken: "r", RefreshTokenExpiresAt: now.Add(-time.Second)}, wantErr: credstore.ErrSessionExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if tt.stored != nil {
				if err := s.Put("id", *tt.stored); err != nil {
					t.Fatal(err)
				}
			}
			var spent string
			got, err := s.Fresh(context.Background(), "id", now, 30*time.Second, func(_ context.Context, rt string) (credstore.Session, error) {
				spent = rt
				return rotated, tt.refresh
			})
			if !errors.Is(err, tt.wantErr) || got.AccessToken != tt.want || spent != tt.spent {
				t.Fatalf("Fresh = %q, %v (spent %q); want %q, %v (spent %q)", got.AccessToken, err, spent, tt.want, tt.wantErr, tt.spent)
			}
			if tt.spent != "" && tt.refresh == nil {
				saved, _, _ := s.Get("id")
				if saved.AccessToken != "access-2" || saved.RefreshToken != "refresh-2" || saved.Email != "ada@example.com" {
					t.Errorf("saved %+v: want the rotated tokens, the email kept", saved)
				}
			}
		})
	}
}

// TestFreshConcurrent refreshes from many goroutines at once, each with its own open file
// (as separate processes would have): the refresh token is spent once.
func TestFreshConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := credstore.Open(path).Put("id", session("1", -time.Minute)); err != nil {
		t.Fatal(err)
	}
	var refreshes atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := credstore.Open(path).Fresh(context.Background(), "id", now, 30*time.Second, func(context.Context, string) (credstore.Session, error) {
				refreshes.Add(1)
				return session("2", time.Hour), nil
			})
			if err != nil || got.AccessToken != "access-2" {
				t.Errorf("Fresh = %q, %v; want access-2", got.AccessToken, err)
			}
		})
	}
	wg.Wait()
	if n := refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

func TestCorruptFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := credstore.Open(path).Get("id"); err == nil || !strings.Contains(err.Error(), "remove the file and log in again") {
		t.Errorf("Get on a corrupt file = %v", err)
	}
}
