package presign_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/files/presign"
	"meshwork.dev/platform/errs"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s := presign.NewSigner([]byte("0123456789abcdef0123456789abcdef"), "http://h")
	u, _ := url.Parse(s.URL(presign.Grant{Method: "PUT", FileID: "f1", Expires: now.Add(time.Minute), MaxSize: 10}))
	if g, err := s.Check("PUT", "f1", u.Query(), now); err != nil || g.MaxSize != 10 || g.Nonce == "" {
		t.Fatalf("valid URL: %+v %v", g, err)
	}
	tamper := func(k, v string) url.Values {
		q := u.Query()
		q.Set(k, v)
		return q
	}
	for name, tc := range map[string]struct {
		method, id string
		q          url.Values
		at         time.Time
		kind       errs.Kind
	}{
		"other file":   {"PUT", "f2", u.Query(), now, errs.Unauthenticated},
		"other method": {"GET", "f1", u.Query(), now, errs.Unauthenticated},
		"larger max":   {"PUT", "f1", tamper("max", "11"), now, errs.Unauthenticated},
		"later expiry": {"PUT", "f1", tamper("exp", "99999999999"), now, errs.Unauthenticated},
		"other nonce":  {"PUT", "f1", tamper("nonce", "00"), now, errs.Unauthenticated},
		"store flag":   {"PUT", "f1", tamper("store", "1"), now, errs.Unauthenticated},
		"expired":      {"PUT", "f1", u.Query(), now.Add(time.Hour), errs.Forbidden},
	} {
		if _, err := s.Check(tc.method, tc.id, tc.q, tc.at); !errs.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %s", name, err, tc.kind)
		}
	}
	other := presign.NewSigner([]byte("another key another key another!"), "http://h")
	if _, err := other.Check("PUT", "f1", u.Query(), now); err == nil {
		t.Error("another key accepted the URL")
	}
}

func TestDisposition(t *testing.T) {
	t.Parallel()
	got := presign.Disposition("Bericht \"ä\";\r\nX-Evil: 1.pdf")
	if strings.ContainsAny(got, "\r\n") || strings.Count(got, `"`) != 2 {
		t.Fatalf("unsafe header %q", got)
	}
	if !strings.Contains(got, "filename*=UTF-8''Bericht%20%22%C3%A4%22%3B%0D%0AX-Evil%3A%201.pdf") {
		t.Fatalf("filename* %q", got)
	}
}
