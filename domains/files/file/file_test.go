package file_test

import (
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/files/file"
	"meshwork.dev/platform/errs"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"report.pdf": true, "Prüfbericht 7.jpg": true, strings.Repeat("a", 255): true,
		"": false, "a/b": false, `a\b`: false, "..": false, "a\x00b": false, "a\nb": false,
		strings.Repeat("a", 256): false, "\xff": false, " lead": false,
	} {
		err := file.ValidateName("name", name)
		if (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", name, err, ok)
		}
		if err != nil && (!errs.Is(err, errs.Invalid) || errs.Violations(err)[0].Field != "name") {
			t.Errorf("%q: %v does not name the field", name, err)
		}
	}
}

func TestAccess(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f := &file.File{OwnerID: "alice", State: file.Stored, Shares: []file.Share{
		{UserID: "bob", Expires: now.Add(time.Hour)},
		{Role: "engineer", Expires: now.Add(-time.Hour)},
		{Role: "analyst", Expires: now.Add(time.Hour)},
	}}
	for _, tc := range []struct {
		p    file.Principal
		read bool
	}{
		{file.Principal{Subject: "alice"}, true},
		{file.Principal{Subject: "bob"}, true},
		{file.Principal{Subject: "carol", Roles: []string{"engineer"}}, false},
		{file.Principal{Subject: "dave", Roles: []string{"analyst"}}, true},
		{file.Principal{Subject: "eve", Roles: []string{"admin"}}, true},
		{file.Principal{Subject: "svc", Scopes: []string{"files:read-all"}}, true},
		{file.Principal{Subject: "mallory"}, false},
	} {
		if got := f.CanRead(tc.p, now); got != tc.read {
			t.Errorf("%+v: CanRead %v, want %v", tc.p, got, tc.read)
		}
	}
	if f.CanChange(file.Principal{Subject: "bob"}) || !f.CanChange(file.Principal{Subject: "alice"}) {
		t.Error("only the owner or an admin may change a file")
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f := &file.File{State: file.Pending}
	if err := f.Store(now); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("store without content: %v", err)
	}
	f.SHA256 = "x"
	if err := f.Store(now); err != nil || f.State != file.Stored {
		t.Fatalf("store: %v", err)
	}
	if err := f.Delete(now); err != nil || f.State != file.Deleted {
		t.Fatalf("delete: %v", err)
	}
	if err := f.Delete(now); err == nil {
		t.Fatal("deleted twice")
	}
	if err := f.Store(now); err == nil {
		t.Fatal("stored a deleted file")
	}
}
