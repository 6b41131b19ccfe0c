// Package file is the files domain: a file's metadata, its lifecycle (pending → stored →
// deleted → purged), the rules for names and labels, and who may read or change it. It does
// no I/O; the mongo package stores it.
package file

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"meshwork.dev/platform/errs"
)

// State is where a file is in its lifecycle.
type State string

// The states. Purged files no longer exist.
const (
	Pending State = "pending"
	Stored  State = "stored"
	Deleted State = "deleted"
)

// MaxNameLen is the longest file name, in bytes.
const MaxNameLen = 255

// Share lets a user (UserID) or every holder of a role (Role) read a file until Expires.
type Share struct {
	UserID  string    `bson:"user_id,omitempty"`
	Role    string    `bson:"role,omitempty"`
	Expires time.Time `bson:"expires"`
}

// File is a file's metadata. The content and its wrapped data key live in the store.
type File struct {
	ID                  string            `bson:"_id"`
	Name                string            `bson:"name"`
	OwnerID             string            `bson:"owner_id"`
	State               State             `bson:"state"`
	Size                int64             `bson:"size"`
	SHA256              string            `bson:"sha256"`
	ContentType         string            `bson:"content_type"`
	DeclaredContentType string            `bson:"declared_content_type"`
	Labels              map[string]string `bson:"labels,omitempty"`
	Shares              []Share           `bson:"shares,omitempty"`
	IdempotencyKey      string            `bson:"idempotency_key,omitempty"`
	Created             time.Time         `bson:"created"`
	Updated             time.Time         `bson:"updated"`
	Deleted             time.Time         `bson:"deleted,omitempty"`
}

// ValidateName checks a file name: not empty, valid UTF-8, at most MaxNameLen bytes, no path
// separators, no control characters, not "." or "..". The error names field.
func ValidateName(field, name string) error {
	const op = "file.ValidateName"
	bad := func(why string) error { return errs.BadRequest(op, errs.Violation{Field: field, Description: why}) }
	switch {
	case name == "":
		return bad("must not be empty")
	case !utf8.ValidString(name):
		return bad("must be valid UTF-8")
	case len(name) > MaxNameLen:
		return bad("must be at most 255 bytes")
	case strings.ContainsAny(name, `/\`):
		return bad("must not contain path separators")
	case name == "." || name == "..":
		return bad("must not be . or ..")
	case strings.TrimSpace(name) != name:
		return bad("must not start or end with spaces")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return bad("must not contain control characters")
	}
	return nil
}

// ValidateLabels checks labels: at most 32, keys 1–63 bytes of [a-z0-9._-], values at most
// 256 bytes without control characters.
func ValidateLabels(field string, labels map[string]string) error {
	const op = "file.ValidateLabels"
	if len(labels) > 32 {
		return errs.BadRequest(op, errs.Violation{Field: field, Description: "at most 32 labels"})
	}
	for k, v := range labels {
		okKey := len(k) > 0 && len(k) <= 63 && strings.IndexFunc(k, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		}) < 0
		if !okKey {
			return errs.BadRequest(op, errs.Violation{Field: field + "[" + k + "]", Description: "key must be 1-63 characters of a-z 0-9 . _ -"})
		}
		if len(v) > 256 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return errs.BadRequest(op, errs.Violation{Field: field + "[" + k + "]", Description: "value must be at most 256 bytes without control characters"})
		}
	}
	return nil
}

// Principal is who is acting: the subject, roles and scopes from the token.
type Principal struct {
	Subject string
	Roles   []string
	Scopes  []string
}

// System is the principal of the sweeper and the purge.
var System = Principal{Subject: "system", Roles: []string{"admin"}}

// AdminRole and AdminScope see and change every file.
const (
	AdminRole  = "admin"
	AdminScope = "files:admin"
	ReadScope  = "files:read-all"
)

func (p Principal) admin() bool {
	return slices.Contains(p.Roles, AdminRole) || slices.Contains(p.Scopes, AdminScope)
}

// CanRead reports whether p may read f's metadata and content at now: its owner, an admin
// (role admin or scope files:admin), a holder of scope files:read-all, or a grantee of a share
// that has not expired. Nobody but an admin reads a deleted file.
func (f *File) CanRead(p Principal, now time.Time) bool {
	if p.admin() {
		return true
	}
	if f.State == Deleted {
		return false
	}
	if f.OwnerID == p.Subject || slices.Contains(p.Scopes, ReadScope) {
		return true
	}
	for _, s := range f.Shares {
		if !now.Before(s.Expires) {
			continue
		}
		if s.UserID != "" && s.UserID == p.Subject || s.Role != "" && slices.Contains(p.Roles, s.Role) {
			return true
		}
	}
	return false
}

// CanChange reports whether p may store, share or delete f: its owner or an admin.
func (f *File) CanChange(p Principal) bool { return p.admin() || f.OwnerID == p.Subject }

// Store confirms a pending file. Storing a stored file is a no-op (retries are safe).
func (f *File) Store(now time.Time) error {
	switch f.State {
	case Stored:
		return nil
	case Pending:
		if f.SHA256 == "" {
			return errs.E("file.Store", errs.FailedPrecondition, "the file has no content yet")
		}
		f.State, f.Updated = Stored, now
		return nil
	}
	return errs.Errorf("file.Store", errs.FailedPrecondition, "a %s file cannot be stored", f.State)
}

// Delete soft-deletes the file; it is purged after the retention.
func (f *File) Delete(now time.Time) error {
	if f.State == Deleted {
		return errs.E("file.Delete", errs.FailedPrecondition, "the file is already deleted")
	}
	f.State, f.Updated, f.Deleted = Deleted, now, now
	return nil
}

// AddShare adds or replaces the share for the same grantee.
func (f *File) AddShare(s Share, now time.Time) error {
	const op = "file.AddShare"
	if (s.UserID == "") == (s.Role == "") {
		return errs.BadRequest(op, errs.Violation{Field: "share.grantee", Description: "exactly one of user_id or role is required"})
	}
	if !s.Expires.After(now) {
		return errs.BadRequest(op, errs.Violation{Field: "share.expires_at", Description: "must be in the future"})
	}
	if f.State == Deleted {
		return errs.E(op, errs.FailedPrecondition, "the file is deleted")
	}
	f.Shares = slices.DeleteFunc(f.Shares, func(o Share) bool { return o.UserID == s.UserID && o.Role == s.Role })
	f.Shares = append(f.Shares, s)
	f.Updated = now
	return nil
}
