// Package crypt encrypts file content at rest: AES-256-GCM per chunk under a random per-file
// data key, the data key wrapped by a key-encryption key (KEK) from the configuration.
//
// Content is cut into plaintext chunks of ChunkSize bytes; each is sealed on its own with the
// nonce = chunk index and the additional data = file id ‖ chunk index ‖ final flag, so chunks
// can be neither reordered, swapped between files nor truncated at a chunk boundary without
// the tag failing. A nonce derived from the index is safe because a data key encrypts exactly
// one file, once. Every sealed chunk but the last is ChunkSize+Overhead bytes, so plaintext
// offsets map to ciphertext offsets and ranges can be read without decrypting what precedes.
// An empty file is one empty final chunk.
package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"meshwork.dev/platform/errs"
)

// ChunkSize is the plaintext size of every chunk but the last.
const ChunkSize = 256 << 10

// Overhead is what sealing adds to a chunk (the GCM tag).
const Overhead = 16

// SealedChunkSize is the ciphertext size of every chunk but the last.
const SealedChunkSize = ChunkSize + Overhead

// KeySize is the size of a KEK and of a data key.
const KeySize = 32

// KEK is a key-encryption key with its id. It is safe for concurrent use.
type KEK struct {
	id   string
	aead cipher.AEAD
}

// ParseKEK reads a KEK from base64 (standard or URL alphabet, padded or not) of KeySize bytes.
// Its error never quotes s.
func ParseKEK(s string) (*KEK, error) {
	raw, err := DecodeKey(s)
	if err != nil {
		return nil, errs.Wrap("crypt.ParseKEK", err)
	}
	return NewKEK(raw)
}

// DecodeKey reads KeySize bytes from base64 (standard or URL alphabet, padded or not). Its
// error never quotes s.
func DecodeKey(s string) ([]byte, error) {
	const op = "crypt.DecodeKey"
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(raw) != KeySize {
		return nil, errs.E(op, errs.Invalid, "must be base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")
	}
	return raw, nil
}

// NewKEK returns a KEK from KeySize raw bytes. Its id is the first 8 bytes of SHA-256 of
// "meshwork-files-kek" ‖ raw, in hex: stable, recorded beside every wrapped key, and saying
// nothing useful about the key.
func NewKEK(raw []byte) (*KEK, error) {
	const op = "crypt.NewKEK"
	if len(raw) != KeySize {
		return nil, errs.Errorf(op, errs.Invalid, "must be %d bytes, got %d", KeySize, len(raw))
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	sum := sha256.Sum256(append([]byte("meshwork-files-kek"), raw...))
	return &KEK{id: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ID identifies the KEK.
func (k *KEK) ID() string { return k.id }

// WrappedKey is a data key sealed under a KEK, with the KEK's id.
type WrappedKey struct {
	// KEKID is the id of the KEK that wrapped it.
	KEKID string
	// Sealed is nonce ‖ ciphertext ‖ tag.
	Sealed []byte
}

// NewDataKey returns a fresh random data key for fileID, wrapped by k.
func (k *KEK) NewDataKey(fileID string) (WrappedKey, []byte) {
	dk := make([]byte, KeySize)
	_, _ = rand.Read(dk) // crypto/rand.Read never fails
	return k.Wrap(fileID, dk), dk
}

// Wrap seals data key dk of fileID under k; the file id is the additional data, so a wrapped
// key copied to another file does not open.
func (k *KEK) Wrap(fileID string, dk []byte) WrappedKey {
	out := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(dk)+k.aead.Overhead())
	_, _ = rand.Read(out)
	return WrappedKey{KEKID: k.id, Sealed: k.aead.Seal(out, out, dk, []byte("dk:"+fileID))}
}

// Unwrap opens w for fileID. It fails with FailedPrecondition if w was wrapped by another KEK.
func (k *KEK) Unwrap(fileID string, w WrappedKey) ([]byte, error) {
	const op = "crypt.KEK.Unwrap"
	if w.KEKID != k.id {
		return nil, errs.Errorf(op, errs.FailedPrecondition, "data key of %s is wrapped by KEK %s, not %s", fileID, w.KEKID, k.id)
	}
	n := k.aead.NonceSize()
	if len(w.Sealed) < n {
		return nil, errs.Errorf(op, errs.Internal, "wrapped key of %s is truncated", fileID)
	}
	dk, err := k.aead.Open(nil, w.Sealed[:n], w.Sealed[n:], []byte("dk:"+fileID))
	if err != nil {
		return nil, errs.Errorf(op, errs.Internal, "data key of %s does not open: %w", fileID, err)
	}
	return dk, nil
}

// Rewrap opens w with old and wraps the data key under k: what `files rotate-kek` does.
func (k *KEK) Rewrap(old *KEK, fileID string, w WrappedKey) (WrappedKey, error) {
	dk, err := old.Unwrap(fileID, w)
	if err != nil {
		return WrappedKey{}, err
	}
	return k.Wrap(fileID, dk), nil
}

// Cipher seals and opens the chunks of one file. Implementations are safe for concurrent use.
type Cipher interface {
	// Seal appends the sealed chunk index of the file to dst.
	Seal(dst, plain []byte, index uint64, final bool) []byte
	// Open appends the opened chunk to dst, failing if it was altered or misplaced.
	Open(dst, sealed []byte, index uint64, final bool) ([]byte, error)
	// Overhead is what Seal adds to a chunk.
	Overhead() int
}

// FileCipher is the AES-256-GCM Cipher of one file.
type FileCipher struct {
	fileID string
	aead   cipher.AEAD
}

// NewFileCipher returns the cipher of fileID under data key dk.
func NewFileCipher(fileID string, dk []byte) (*FileCipher, error) {
	aead, err := newAEAD(dk)
	if err != nil {
		return nil, errs.Wrap("crypt.NewFileCipher", err)
	}
	return &FileCipher{fileID: fileID, aead: aead}, nil
}

func (c *FileCipher) ad(index uint64, final bool) ([]byte, []byte) {
	var nonce [12]byte
	binary.BigEndian.PutUint64(nonce[4:], index)
	ad := make([]byte, 0, len(c.fileID)+9)
	ad = append(ad, c.fileID...)
	ad = binary.BigEndian.AppendUint64(ad, index)
	if final {
		ad = append(ad, 1)
	} else {
		ad = append(ad, 0)
	}
	return nonce[:], ad
}

// Seal implements Cipher.
func (c *FileCipher) Seal(dst, plain []byte, index uint64, final bool) []byte {
	nonce, ad := c.ad(index, final)
	return c.aead.Seal(dst, nonce, plain, ad)
}

// Open implements Cipher.
func (c *FileCipher) Open(dst, sealed []byte, index uint64, final bool) ([]byte, error) {
	nonce, ad := c.ad(index, final)
	out, err := c.aead.Open(dst, nonce, sealed, ad)
	if err != nil {
		return nil, errs.Errorf("crypt.FileCipher.Open", errs.Internal, "chunk %d of %s: %w", index, c.fileID, err)
	}
	return out, nil
}

// Overhead implements Cipher.
func (c *FileCipher) Overhead() int { return Overhead }

// Plain is a Cipher that does not encrypt but keeps the same framing (a zero tag of Overhead
// bytes): the baseline of the benchmarks, never used to store files.
type Plain struct{}

// Seal implements Cipher.
func (Plain) Seal(dst, plain []byte, _ uint64, _ bool) []byte {
	dst = append(dst, plain...)
	return append(dst, make([]byte, Overhead)...)
}

// Open implements Cipher.
func (Plain) Open(dst, sealed []byte, index uint64, _ bool) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("crypt.Plain.Open: chunk %d is short", index)
	}
	return append(dst, sealed[:len(sealed)-Overhead]...), nil
}

// Overhead implements Cipher.
func (Plain) Overhead() int { return Overhead }

// SealedSize is the ciphertext size of a plaintext of size bytes.
func SealedSize(size int64) int64 {
	n := size / ChunkSize
	if size%ChunkSize != 0 || size == 0 {
		n++
	}
	return size + n*Overhead
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errs.Errorf("crypt", errs.Internal, "aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errs.Errorf("crypt", errs.Internal, "gcm: %w", err)
	}
	return aead, nil
}
