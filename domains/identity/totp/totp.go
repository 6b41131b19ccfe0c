// Package totp is the second factor: time-based one-time passwords (RFC 6238 over HOTP,
// RFC 4226) as every authenticator app implements them — SHA-1, 6 digits, 30-second steps —
// the otpauth:// URI and QR code that enrol an app, and one-time recovery codes.
//
// Validate accepts the codes of the current step and one step either side, to allow for
// clock skew and slow typing, and returns the step that matched, so the caller can refuse a
// second use of the same step (a replay). No I/O.
package totp

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"hash"
	"image/png"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"

	"meshwork.dev/platform/errs"
)

// The parameters every code uses.
const (
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// Skew is how many steps before and after the current one Validate accepts.
	Skew = 1
	// SecretBytes is the secret's length: 160 bits, the HMAC-SHA-1 block RFC 4226 recommends.
	SecretBytes = 20
)

// Algorithm is the HMAC hash of HOTP. Authenticator apps only reliably support SHA1; the
// others exist for the RFC 6238 test vectors.
type Algorithm int

// The algorithms of RFC 6238.
const (
	SHA1 Algorithm = iota
	SHA256
	SHA512
)

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	default:
		return sha1.New
	}
}

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// HOTP is RFC 4226's HMAC-based one-time password of key and counter with digits digits
// (1 to 8), zero-padded.
func HOTP(key []byte, counter uint64, digits int, alg Algorithm) string {
	digits = min(max(digits, 1), 8)
	mac := hmac.New(alg.hash(), key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	code := strconv.FormatUint(uint64(bin%pow10[digits]), 10)
	return strings.Repeat("0", digits-len(code)) + code
}

// Step is the RFC 6238 time step counter of t: seconds since the Unix epoch over 30.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the current code of key at t, as an authenticator app shows it.
func Code(key []byte, t time.Time) string { return HOTP(key, uint64(Step(t)), Digits, SHA1) }

// Validate reports whether code is key's code for the step of now or one step either side,
// and which step it matched. Every candidate is compared in constant time, and all of them
// always are, so timing says nothing about which step matched or how many digits were right.
func Validate(key []byte, code string, now time.Time) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) != Digits {
		return 0, false
	}
	cur := Step(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		if subtle.ConstantTimeCompare([]byte(HOTP(key, uint64(s), Digits, SHA1)), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// b32 is the secret's text form: base32 without padding, as otpauth URIs carry it.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random secret of SecretBytes.
func NewSecret() []byte {
	key := make([]byte, SecretBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return key
}

// EncodeSecret returns key in base32, the form people type into an app.
func EncodeSecret(key []byte) string { return b32.EncodeToString(key) }

// DecodeSecret parses a base32 secret, ignoring case, spaces and padding.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	key, err := b32.DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, errs.E("totp.DecodeSecret", errs.Invalid, "not a base32 secret")
	}
	return key, nil
}

// URI returns the otpauth:// URI that enrols key in an app, labelled issuer:account
// (Google Authenticator's key URI format, with every parameter explicit).
func URI(issuer, account string, key []byte) string {
	q := url.Values{}
	q.Set("secret", EncodeSecret(key))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(Digits))
	q.Set("period", strconv.Itoa(int(Period/time.Second)))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}

// QRCode renders uri as a size×size PNG QR code for an app to scan.
func QRCode(uri string, size int) ([]byte, error) {
	const op = "totp.QRCode"
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, errs.Errorf(op, errs.Internal, "parse URI: %w", err)
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, errs.Errorf(op, errs.Internal, "render: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, errs.Errorf(op, errs.Internal, "encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}
