// Package kek seals the secrets identity must be able to read back — TOTP secrets, signing
// keys, idempotent responses holding one-time passwords — under a key-encryption key (KEK)
// from the configuration, with AES-256-GCM.
//
// A sealed value is version (1 byte) ‖ nonce (12 random bytes) ‖ ciphertext and tag. Every
// value is sealed with a context naming what and whose it is (e.g. "totp:<user id>"), passed
// to GCM as additional data, so a ciphertext copied into another row does not open. The
// version byte leaves room for KEK rotation; only version 1 exists.
package kek

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"meshwork.dev/platform/errs"
)

// Size is the KEK's length in bytes.
const Size = 32

const version1 = 1

// Key is a key-encryption key. It is safe for concurrent use.
type Key struct {
	aead cipher.AEAD
}

// New returns a Key from Size raw bytes.
func New(raw []byte) (*Key, error) {
	if len(raw) != Size {
		return nil, errs.Errorf("kek.New", errs.Invalid, "must be %d bytes, got %d", Size, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, errs.Errorf("kek.New", errs.Internal, "aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errs.Errorf("kek.New", errs.Internal, "gcm: %w", err)
	}
	return &Key{aead: aead}, nil
}

// Parse returns a Key from its base64 form (standard or URL alphabet, padded or not). Its
// error never quotes s.
func Parse(s string) (*Key, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errs.E("kek.Parse", errs.Invalid, "must be base64 of 32 random bytes (e.g. `openssl rand -base64 32`), and is not base64")
	}
	if len(raw) != Size {
		return nil, errs.E("kek.Parse", errs.Invalid, fmt.Sprintf("must be base64 of 32 random bytes (e.g. `openssl rand -base64 32`), got %d bytes", len(raw)))
	}
	return New(raw)
}

// Generate returns a new random key in the base64 form Parse reads.
func Generate() string {
	raw := make([]byte, Size)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(raw)
}

// Seal encrypts plaintext bound to context.
func (k *Key) Seal(plaintext []byte, context string) []byte {
	out := make([]byte, 1+k.aead.NonceSize(), 1+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	out[0] = version1
	_, _ = rand.Read(out[1:]) // crypto/rand.Read never fails
	return k.aead.Seal(out, out[1:], plaintext, []byte(context))
}

// Open decrypts a value sealed with context. It fails when the value was sealed under
// another key or context, or was altered.
func (k *Key) Open(sealed []byte, context string) ([]byte, error) {
	const op = "kek.Key.Open"
	n := k.aead.NonceSize()
	if len(sealed) < 1+n+k.aead.Overhead() || sealed[0] != version1 {
		return nil, errs.E(op, errs.Internal, "sealed value is malformed or of an unknown version")
	}
	plain, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, errs.E(op, errs.Internal, "sealed value does not open with this key and context (wrong KEY_ENCRYPTION_KEY?)")
	}
	return plain, nil
}
