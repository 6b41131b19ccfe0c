package totp

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// RecoveryCodes is how many recovery codes an enrolment hands out.
const RecoveryCodes = 10

// recoveryAlphabet is Crockford's base32 in lower case: no i, l, o or u, so nothing reads as
// another symbol. 32 symbols, 5 bits each.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewRecoveryCodes returns n random one-time recovery codes like "k7wq-3rmt-x9pa-fv2d":
// 16 symbols of 5 bits, 80 bits each. That entropy is why a plain SHA-256 (HashRecoveryCode)
// is enough to store them: unlike a password there is no dictionary, and 2^80 guesses are out
// of reach even for a stolen table.
func NewRecoveryCodes(n int) []string {
	codes := make([]string, n)
	for i := range codes {
		var raw [16]byte
		_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
		var b strings.Builder
		for j, r := range raw {
			if j > 0 && j%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[r&31]) // 256 is a multiple of 32: no bias
		}
		codes[i] = b.String()
	}
	return codes
}

// HashRecoveryCode returns the SHA-256 of a recovery code as typed, ignoring case, spaces
// and dashes, for storage and lookup.
func HashRecoveryCode(code string) []byte {
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	sum := sha256.Sum256([]byte(norm))
	return sum[:]
}
