package launcher

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Files the launcher keeps in Dir beside the data. They hold secrets: each is written with
// mode 0600, and a looser mode found on reading is tightened.
const (
	// SecretsFile holds the generated secrets by service and variable name, e.g.
	// {"identity": {"KEY_ENCRYPTION_KEY": "…"}}.
	SecretsFile = "secrets.json"
	// AdminFile holds the first admin's dev credentials (AdminCredentials).
	AdminFile = "admin.json"
	// AccountsFile holds the service accounts by service name, e.g.
	// {"quality": {"client_id": "…", "client_secret": "…"}}.
	AccountsFile = "service-accounts.json"
)

// secretBytes is the size of a generated secret before base64.
const secretBytes = 32

// loadSecrets returns the secrets of the services in svcs, by service and variable name. It
// reads dir/secrets.json, generates the secrets it lacks and saves the file when it added any.
// When no service in svcs declares a secret it touches nothing and returns an empty map.
func loadSecrets(dir string, svcs []Service) (map[string]map[string]string, error) {
	const op = "launcher: secrets"
	all := map[string]map[string]string{}
	want := slices.ContainsFunc(svcs, func(s Service) bool { return len(s.Secrets) > 0 })
	if !want {
		return all, nil
	}
	path := filepath.Join(dir, SecretsFile)
	if _, err := readPrivate(path, &all); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	changed := false
	out := map[string]map[string]string{}
	for _, s := range svcs {
		for _, name := range s.Secrets {
			if all[s.Name] == nil {
				all[s.Name] = map[string]string{}
			}
			if all[s.Name][name] == "" {
				b := make([]byte, secretBytes)
				_, _ = rand.Read(b) // crypto/rand.Read never fails
				all[s.Name][name] = base64.StdEncoding.EncodeToString(b)
				changed = true
			}
			if out[s.Name] == nil {
				out[s.Name] = map[string]string{}
			}
			out[s.Name][name] = all[s.Name][name]
		}
	}
	if changed {
		if err := writePrivate(path, all); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}

// storeSecrets is the entry of secrets.json holding the stores' passwords.
const storeSecrets = "stores"

// StorePasswords are the generated passwords of the launcher's Postgres (its superuser
// postgres) and Redis (its default user). FerretDB has none: it listens on a Unix socket in a
// 0700 directory instead (see the package doc).
type StorePasswords struct {
	Postgres string
	Redis    string
}

// loadStorePasswords returns the stores' passwords from dir/secrets.json, generating the ones
// it lacks. They are hex, so they need no escaping in URLs or config files.
func loadStorePasswords(dir string) (StorePasswords, error) {
	const op = "launcher: store passwords"
	path := filepath.Join(dir, SecretsFile)
	all := map[string]map[string]string{}
	if _, err := readPrivate(path, &all); err != nil {
		return StorePasswords{}, fmt.Errorf("%s: %w", op, err)
	}
	m := all[storeSecrets]
	if m == nil {
		m = map[string]string{}
	}
	changed := false
	for _, name := range []string{"postgres_password", "redis_password"} {
		if m[name] == "" {
			b := make([]byte, 24)
			_, _ = rand.Read(b) // crypto/rand.Read never fails
			m[name] = hex.EncodeToString(b)
			changed = true
		}
	}
	if changed {
		all[storeSecrets] = m
		if err := writePrivate(path, all); err != nil {
			return StorePasswords{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	return StorePasswords{Postgres: m["postgres_password"], Redis: m["redis_password"]}, nil
}

// readPrivate decodes the JSON file at path into v and reports whether it exists; a missing
// file leaves v as it is. A file readable by others is made 0600 first.
func readPrivate(path string, v any) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return true, err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return true, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%s: %w (fix or remove the file)", path, err)
	}
	return true, nil
}

// writePrivate writes v as indented JSON to path with mode 0600. It writes a temporary file
// and renames it over path, so a crash never leaves half a file.
func writePrivate(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// envPairs turns a variable map into sorted NAME=value pairs.
func envPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
