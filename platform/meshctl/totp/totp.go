// Package totp computes one-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA-1,
// the parameters every authenticator app uses (6 digits, 30-second steps). meshctl uses it to
// sign in with the dev admin's TOTP secret from .mesh/admin.json.
package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Standard parameters (RFC 6238 defaults, and what identity issues).
const (
	// Digits is the length of a code.
	Digits = 6
	// Step is how long a code is current.
	Step = 30 * time.Second
)

// HOTP returns the counter's code of the given number of digits (1 to 9) for key, as RFC 4226
// section 5.3 computes it, zero-padded.
func HOTP(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	_ = binary.Write(mac, binary.BigEndian, counter) // writing to a hash never fails
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Counter is the time step t falls in: whole Steps since the Unix epoch.
func Counter(t time.Time) uint64 {
	return uint64(t.Unix() / int64(Step/time.Second))
}

// Code returns the 6-digit TOTP code current at t for a base32 secret, as an otpauth:// URI's
// secret parameter carries it (case and spaces do not matter; padding is optional).
func Code(secret string, t time.Time) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return HOTP(key, Counter(t), Digits), nil
}

// DecodeSecret decodes a base32 TOTP secret, ignoring case, spaces and padding.
func DecodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.ReplaceAll(strings.TrimRight(secret, "="), " ", ""))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("totp: secret is not base32: %w", err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("totp: empty secret")
	}
	return key, nil
}
