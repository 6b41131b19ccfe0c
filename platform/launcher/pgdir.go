package launcher

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// maxSocketPath is the kernel's limit on a Unix socket path, which Postgres's socket in
// <data>/socket must fit.
const maxSocketPath = 107

// postgresDataDir returns the Postgres data directory for the launcher directory dir: dir/postgres
// when the server's account can reach it, otherwise <fallback>/meshwork-<hash of dir>/postgres,
// with why saying what made the launcher move it ("" when it did not). A fallback that already
// holds a cluster is kept even when dir has become reachable, so the data does not vanish.
func postgresDataDir(dir, fallback string, port int) (data, why string, err error) {
	home := filepath.Join(dir, "postgres")
	moved := filepath.Join(fallback, "meshwork-"+pathHash(dir), "postgres")
	why, err = unreachable(home, port)
	if err != nil {
		return "", "", err
	}
	if why == "" {
		if hasCluster(moved) && !hasCluster(home) {
			return moved, "kept there by an earlier run", nil
		}
		return home, "", nil
	}
	if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
		return "", "", fmt.Errorf("postgres data dir: %w", err)
	}
	// The directory is the launcher's own; 0755 lets the postgres user through whatever the umask.
	if err := os.Chmod(filepath.Dir(moved), 0o755); err != nil {
		return "", "", fmt.Errorf("postgres data dir: %w", err)
	}
	again, err := unreachable(moved, port)
	if err != nil {
		return "", "", err
	}
	if again != "" {
		return "", "", fmt.Errorf("postgres data dir: %s, and for the fallback %s %s", why, moved, again)
	}
	return moved, why, nil
}

// pathHash returns 12 hex digits identifying an absolute path.
func pathHash(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:6])
}

func hasCluster(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "PG_VERSION"))
	return err == nil
}

// unreachable says why Postgres could not use data as its data directory: its socket path is
// too long, or (when this process is root and Postgres runs as the postgres user) that user
// cannot enter a directory above it. It returns "" when neither is the case.
func unreachable(data string, port int) (string, error) {
	sock := filepath.Join(data, "socket", ".s.PGSQL."+strconv.Itoa(port))
	if port == 0 {
		sock += "00000" // a free port has up to five digits
	}
	if len(sock) > maxSocketPath {
		return fmt.Sprintf("its socket path under %s would be longer than %d bytes", data, maxSocketPath), nil
	}
	if os.Geteuid() != 0 {
		return "", nil
	}
	acct, err := lookupAccount("postgres")
	if err != nil {
		return "", nil // StartPostgres reports the missing user
	}
	for p := filepath.Dir(data); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !acct.canEnter(fi):
			return fmt.Sprintf("the postgres user cannot enter %s", p), nil
		case err != nil && !os.IsNotExist(err):
			return "", fmt.Errorf("postgres data dir: %w", err)
		}
		if p == filepath.Dir(p) {
			return "", nil
		}
	}
}

// account is an OS user's ids, for checking which directories it may enter.
type account struct {
	uid  uint32
	gids []uint32
}

func lookupAccount(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return account{}, err
	}
	a := account{uid: uint32(uid)}
	ids, _ := u.GroupIds()
	for _, id := range append(ids, u.Gid) {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			a.gids = append(a.gids, uint32(g))
		}
	}
	return a, nil
}

// canEnter applies the owner, group and other execute bits the way the kernel does (ACLs
// aside, as localserver's own check does).
func (a account) canEnter(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case slices.Contains(a.gids, st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}
