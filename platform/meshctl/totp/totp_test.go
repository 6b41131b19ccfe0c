package totp_test

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"meshwork.dev/platform/meshctl/totp"
)

// rfcKey is the SHA-1 key of RFC 4226 Appendix D and RFC 6238 Appendix B.
var rfcKey = []byte("12345678901234567890")

func TestHOTPRFC4226(t *testing.T) {
	t.Parallel()
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, code := range want {
		if got := totp.HOTP(rfcKey, uint64(counter), 6); got != code {
			t.Errorf("HOTP(counter %d) = %s, want %s", counter, got, code)
		}
	}
}

// TestTOTPRFC6238 checks the SHA-1 rows of RFC 6238 Appendix B: with 8 digits as printed
// there, and through Code with 6 (the same value's last six digits).
func TestTOTPRFC6238(t *testing.T) {
	t.Parallel()
	secret := base32.StdEncoding.EncodeToString(rfcKey)
	tests := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0)
		if got := totp.HOTP(rfcKey, totp.Counter(at), 8); got != tt.code {
			t.Errorf("TOTP at %d = %s, want %s", tt.unix, got, tt.code)
		}
		got, err := totp.Code(strings.ToLower(strings.TrimRight(secret, "=")), at)
		if err != nil || got != tt.code[2:] {
			t.Errorf("Code at %d = %q, %v; want %s", tt.unix, got, err, tt.code[2:])
		}
	}
}

func TestCodeSteps(t *testing.T) {
	t.Parallel()
	secret := "JBSWY3DPEHPK3PXP"
	start := time.Unix(1_800_000_000, 0) // a multiple of 30 s
	a, _ := totp.Code(secret, start)
	b, _ := totp.Code(secret, start.Add(29*time.Second))
	c, _ := totp.Code(secret, start.Add(30*time.Second))
	if a != b || a == c || len(a) != 6 {
		t.Errorf("codes %q, %q (same step) and %q (next step): want 6 digits, equal within a step", a, b, c)
	}
	if spaced, _ := totp.Code("jbsw y3dp ehpk 3pxp", start); spaced != a {
		t.Errorf("a lower-case secret with spaces gave %q, want %q", spaced, a)
	}
}

func TestCodeBadSecret(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "not base32!", "1111"} {
		if _, err := totp.Code(s, time.Now()); err == nil {
			t.Errorf("Code(%q) succeeded", s)
		}
	}
}
