package totp_test

import (
	"bytes"
	"image/png"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/identity/totp"
)

// TestRFC6238Vectors checks every row of RFC 6238 Appendix B (8 digits, 30 s steps), with the
// seeds the RFC's reference code uses for each hash.
func TestRFC6238Vectors(t *testing.T) {
	t.Parallel()
	seeds := map[totp.Algorithm][]byte{
		totp.SHA1:   []byte("12345678901234567890"),
		totp.SHA256: []byte("12345678901234567890123456789012"),
		totp.SHA512: []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	tests := []struct {
		unix               int64
		step               int64
		sha1, sha256, s512 string
	}{
		{59, 0x1, "94287082", "46119246", "90693936"},
		{1111111109, 0x23523EC, "07081804", "68084774", "25091201"},
		{1111111111, 0x23523ED, "14050471", "67062674", "99943326"},
		{1234567890, 0x273EF07, "89005924", "91819424", "93441116"},
		{2000000000, 0x3F940AA, "69279037", "90698825", "38618901"},
		{20000000000, 0x27BC86AA, "65353130", "77737706", "47863826"},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0).UTC()
		if got := totp.Step(at); got != tt.step {
			t.Errorf("Step(%d) = %#x, want %#x", tt.unix, got, tt.step)
		}
		for alg, want := range map[totp.Algorithm]string{totp.SHA1: tt.sha1, totp.SHA256: tt.sha256, totp.SHA512: tt.s512} {
			if got := totp.HOTP(seeds[alg], uint64(totp.Step(at)), 8, alg); got != want {
				t.Errorf("T=%d alg %d: %s, want %s", tt.unix, alg, got, want)
			}
		}
		// The 6-digit code apps show is the last six digits of the same value.
		if got := totp.Code(seeds[totp.SHA1], at); got != tt.sha1[2:] {
			t.Errorf("Code at %d = %s, want %s", tt.unix, got, tt.sha1[2:])
		}
	}
}

// TestOathtool checks a code against oathtool 2.6 (`oathtool --totp -b JBSWY3DPEHPK3PXP
// --now "2026-01-01 00:00:00 UTC"`), from a base32 secret as apps are given it.
func TestOathtool(t *testing.T) {
	t.Parallel()
	key, err := totp.DecodeSecret("jbsw y3dp ehpk 3pxp")
	if err != nil {
		t.Fatal(err)
	}
	if got := totp.Code(key, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got != "260025" {
		t.Errorf("code %s, want 260025", got)
	}
}

func TestValidateSkewAndSteps(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890") // fixed, so no two codes here collide by chance
	now := time.Date(2026, 3, 1, 12, 0, 15, 0, time.UTC)
	cur := totp.Step(now)
	tests := []struct {
		name   string
		codeAt time.Time
		ok     bool
		step   int64
	}{
		{"current", now, true, cur},
		{"previous step", now.Add(-30 * time.Second), true, cur - 1},
		{"next step", now.Add(30 * time.Second), true, cur + 1},
		{"two steps back", now.Add(-60 * time.Second), false, 0},
		{"two steps ahead", now.Add(60 * time.Second), false, 0},
	}
	for _, tt := range tests {
		code := totp.Code(key, tt.codeAt)
		step, ok := totp.Validate(key, code, now)
		if ok != tt.ok || (ok && step != tt.step) {
			t.Errorf("%s: Validate(%s) = %d, %v; want %d, %v", tt.name, code, step, ok, tt.step, tt.ok)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := totp.Validate(key, bad, now); ok {
			t.Errorf("Validate(%q) accepted", bad)
		}
	}
	// A code that matches none of the three steps.
	valid := []string{totp.Code(key, now.Add(-30*time.Second)), totp.Code(key, now), totp.Code(key, now.Add(30*time.Second))}
	wrong := "000000"
	for slices.Contains(valid, wrong) {
		wrong = string(rune('1'+wrong[0]-'0')) + wrong[1:]
	}
	if _, ok := totp.Validate(key, wrong, now); ok {
		t.Errorf("wrong code %s accepted", wrong)
	}
}

func TestSecretAndURI(t *testing.T) {
	t.Parallel()
	key := totp.NewSecret()
	if len(key) != 20 || bytes.Equal(key, totp.NewSecret()) {
		t.Fatal("secrets are not 20 random bytes")
	}
	enc := totp.EncodeSecret(key)
	back, err := totp.DecodeSecret(strings.ToLower(enc))
	if err != nil || !bytes.Equal(back, key) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := totp.DecodeSecret("not base32!"); err == nil {
		t.Error("DecodeSecret accepted garbage")
	}
	uri := totp.URI("Meshwork", "alice@example.com", key)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Meshwork:alice@example.com" ||
		q.Get("secret") != enc || q.Get("issuer") != "Meshwork" || q.Get("algorithm") != "SHA1" ||
		q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("URI %s", uri)
	}
	pngBytes, err := totp.QRCode(uri, 256)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Errorf("QR code is %v", b)
	}
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	codes := totp.NewRecoveryCodes(totp.RecoveryCodes)
	if len(codes) != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 19 || strings.Count(c, "-") != 3 || seen[c] {
			t.Errorf("code %q (duplicate %v)", c, seen[c])
		}
		seen[c] = true
		typed := strings.ToUpper(strings.ReplaceAll(c, "-", " "))
		if !bytes.Equal(totp.HashRecoveryCode(typed), totp.HashRecoveryCode(c)) {
			t.Errorf("hash of %q depends on case and separators", c)
		}
		if bytes.Contains(totp.HashRecoveryCode(c), []byte(c)) {
			t.Error("hash contains the code")
		}
	}
}
