package localserver

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// runAs is the OS account a server process runs as. The zero value means "this process's user".
type runAs struct {
	uid, gid uint32
	groups   []uint32
	name     string
	switchTo bool // true when running as root and the child must switch to uid/gid
}

// serverAccount returns the account to run a server that refuses root (Postgres) as: the named
// user when this process is root, otherwise the current user.
func serverAccount(name string) (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return runAs{}, fmt.Errorf("running as root needs the %q OS user (apt-get install postgresql creates it): %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return runAs{}, fmt.Errorf("user %s uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return runAs{}, fmt.Errorf("user %s gid %q: %w", name, u.Gid, err)
	}
	a := runAs{uid: uint32(uid), gid: uint32(gid), name: name, switchTo: true}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// sysProcAttr returns process attributes that run a child as the account.
func (a runAs) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if a.switchTo {
		attr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
	}
	return attr
}

// mkdirOwned creates dir (mode perm) if missing, with missing parents 0755, and gives it to the
// account when switching users. An existing dir is chowned too, so a Dir created by root works.
func (a runAs) mkdirOwned(dir string, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, perm); err != nil && !os.IsExist(err) {
		return err
	}
	if !a.switchTo {
		return nil
	}
	return os.Chown(dir, int(a.uid), int(a.gid))
}

// checkReachable returns an error naming the first ancestor of dir that the account cannot
// enter. Only the account's own dirs need to be entered by it: localserver never changes the
// modes of directories it did not create.
func (a runAs) checkReachable(dir string) error {
	if !a.switchTo {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !a.canEnter(fi) {
			return fmt.Errorf("the %s user cannot enter %s (mode %v): make it traversable (chmod o+x %s) or choose a Dir outside it", a.name, p, fi.Mode().Perm(), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (a runAs) canEnter(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case a.inGroup(st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

func (a runAs) inGroup(gid uint32) bool {
	if gid == a.gid {
		return true
	}
	for _, g := range a.groups {
		if g == gid {
			return true
		}
	}
	return false
}
