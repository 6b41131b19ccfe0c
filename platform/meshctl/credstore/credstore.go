// Package credstore keeps meshctl's sessions: the access and refresh tokens of every identity
// service the user has signed in to, keyed by the service's address so that two meshes do not
// clash. They live in one JSON file that only the user can read (mode 0600, in a 0700
// directory), by default <user config dir>/meshwork/credentials.json.
//
// Changes lock the file (flock on a .lock file beside it, on Unix), so that two meshctl
// processes refreshing at once do not both spend the same single-use refresh token — which
// identity would take for a stolen token and answer by revoking the session.
package credstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Session is one signed-in identity service's tokens.
type Session struct {
	// Email is who signed in, for display.
	Email string `json:"email,omitempty"`
	// AccessToken is the JWT sent as "authorization: Bearer".
	AccessToken          string    `json:"access_token"`
	AccessTokenExpiresAt time.Time `json:"access_token_expires_at"`
	// RefreshToken is the single-use token that gets the next pair.
	RefreshToken          string    `json:"refresh_token"`
	RefreshTokenExpiresAt time.Time `json:"refresh_token_expires_at"`
}

// Errors of Fresh, for callers to tell the user what to do.
var (
	// ErrNotLoggedIn means there is no session for the address.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrSessionExpired means the session's refresh token has expired.
	ErrSessionExpired = errors.New("session expired")
)

// Store is a credentials file. Its methods are safe to use from several processes at once.
type Store struct {
	path string
}

// fileContent is the file's JSON.
type fileContent struct {
	Sessions map[string]Session `json:"sessions"`
}

// DefaultPath is <user config dir>/meshwork/credentials.json ($XDG_CONFIG_HOME or ~/.config
// on Linux).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("credstore: %w", err)
	}
	return filepath.Join(dir, "meshwork", "credentials.json"), nil
}

// Open returns the store kept at path; nothing is read or created until it is used.
func Open(path string) *Store { return &Store{path: path} }

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Get returns the session for the identity service at addr, and whether there is one.
func (s *Store) Get(addr string) (Session, bool, error) {
	c, err := s.read()
	if err != nil {
		return Session{}, false, err
	}
	sess, ok := c.Sessions[addr]
	return sess, ok, nil
}

// Put saves the session for addr, replacing any other.
func (s *Store) Put(addr string, sess Session) error {
	return s.update(func(c *fileContent) (bool, error) {
		c.Sessions[addr] = sess
		return true, nil
	})
}

// Delete removes addr's session and reports whether there was one.
func (s *Store) Delete(addr string) (bool, error) {
	var had bool
	err := s.update(func(c *fileContent) (bool, error) {
		_, had = c.Sessions[addr]
		delete(c.Sessions, addr)
		return had, nil
	})
	return had, err
}

// Fresh returns addr's session with an access token valid until at least now+minValid. A token
// that expires sooner is exchanged by refresh for a new pair, which is saved; the file stays
// locked meanwhile, and a token another process refreshed in the meantime is used as it is.
// It returns ErrNotLoggedIn or ErrSessionExpired when there is nothing to refresh with, and
// refresh's error, wrapped, when the exchange fails.
func (s *Store) Fresh(ctx context.Context, addr string, now time.Time, minValid time.Duration,
	refresh func(ctx context.Context, refreshToken string) (Session, error)) (Session, error) {
	switch sess, ok, err := s.Get(addr); {
	case err != nil:
		return sess, err
	case !ok:
		return sess, ErrNotLoggedIn // and nothing is created
	case sess.AccessTokenExpiresAt.After(now.Add(minValid)):
		return sess, nil // the common case needs no lock
	}
	var out Session
	err := s.update(func(c *fileContent) (bool, error) {
		sess, ok := c.Sessions[addr]
		switch {
		case !ok:
			return false, ErrNotLoggedIn
		case sess.AccessTokenExpiresAt.After(now.Add(minValid)):
			out = sess
			return false, nil
		case sess.RefreshToken == "" || !sess.RefreshTokenExpiresAt.After(now):
			return false, ErrSessionExpired
		}
		next, err := refresh(ctx, sess.RefreshToken)
		if err != nil {
			return false, fmt.Errorf("credstore: refresh: %w", err)
		}
		if next.Email == "" {
			next.Email = sess.Email
		}
		c.Sessions[addr], out = next, next
		return true, nil
	})
	return out, err
}

// read reads the file; a missing file is an empty store.
func (s *Store) read() (*fileContent, error) {
	c := &fileContent{Sessions: map[string]Session{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("credstore: %s: %w (remove the file and log in again)", s.path, err)
	}
	if c.Sessions == nil {
		c.Sessions = map[string]Session{}
	}
	return c, nil
}

// update runs change on the file's content under the lock and writes the result when change
// reports a change.
func (s *Store) update(change func(c *fileContent) (bool, error)) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	unlock, err := lock(s.path + ".lock")
	if err != nil {
		return fmt.Errorf("credstore: lock %s: %w", s.path, err)
	}
	defer unlock()
	c, err := s.read()
	if err != nil {
		return err
	}
	changed, err := change(c)
	if err != nil || !changed {
		return err
	}
	return s.write(c)
}

// write replaces the file with c, mode 0600, through a temporary file and a rename.
func (s *Store) write(c *fileContent) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	return nil
}
