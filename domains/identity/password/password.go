// Package password hashes and verifies passwords with argon2id (RFC 9106).
//
// Each hash is stored in the PHC string format with its parameters beside it,
//
//	$argon2id$v=19$m=65536,t=1,p=1$<salt, base64>$<key, base64>
//
// so a hash is always verified with the parameters it was made with, and the parameters can
// be raised later without invalidating stored hashes (NeedsRehash tells when to re-hash at the
// next successful sign-in). Keys are compared in constant time. DummyVerify costs as much as
// a real verification, so a sign-in for an unknown account takes as long as one for a known
// account with a wrong password.
//
// Argon2id with 64 MiB is deliberately expensive; a Hasher runs at most a fixed number of
// hashes at once, so a burst of sign-ins queues instead of exhausting memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"meshwork.dev/platform/errs"
)

// Params are argon2id's cost parameters and sizes.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived key in bytes.
	KeyLen uint32
}

// Default are the parameters new hashes use: 64 MiB, one pass, one lane — RFC 9106 prefers
// one pass with as much memory as affordable, and these exceed OWASP's argon2id minimum
// (19 MiB, t=2). On the 2-core development machine one hash takes about 65 ms
// (BenchmarkVerify; docs/identity.md).
var Default = Params{Memory: 64 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters accepted when decoding a stored hash, so a corrupted row cannot make a
// verification take minutes or gigabytes.
const (
	maxMemory  = 1 << 21 // KiB: 2 GiB
	maxTime    = 16
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// Validate reports parameters outside what Decode accepts.
func (p Params) Validate() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB out of range", p.Memory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d out of range", p.Time)
	case p.Threads < 1:
		return fmt.Errorf("threads must be at least 1")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of range", p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of range", p.KeyLen)
	}
	return nil
}

// Encode formats a hash in the PHC string format.
func Encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Decode parses a PHC string made by Encode. The returned Params' SaltLen and KeyLen are
// those of the stored salt and key.
func Decode(encoded string) (Params, []byte, []byte, error) {
	const op = "password.Decode"
	fail := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, errs.E(op, errs.Internal, "stored hash: "+why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return fail("not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported version " + parts[2])
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fail("parameter " + kv)
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return fail("parameter " + kv)
			}
			p.Threads = uint8(n)
		default:
			return fail("unknown parameter " + k)
		}
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return fail("salt encoding")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return fail("key encoding")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return fail(err.Error())
	}
	return p, salt, key, nil
}

// Hasher hashes and verifies passwords with its parameters, at most a fixed number at once.
// It is safe for concurrent use.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string // a hash of a random password, for DummyVerify
}

// NewHasher returns a Hasher making new hashes with p and running at most concurrency
// argon2id computations at once (at least 1).
func NewHasher(p Params, concurrency int) (*Hasher, error) {
	const op = "password.NewHasher"
	if err := p.Validate(); err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "argon2id parameters: %w", err)
	}
	h := &Hasher{params: p, slots: make(chan struct{}, max(concurrency, 1))}
	filler := make([]byte, 32)
	_, _ = rand.Read(filler)
	dummy, err := h.Hash(context.Background(), base64.RawStdEncoding.EncodeToString(filler))
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	h.dummy = dummy
	return h, nil
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", errs.Wrap("password.Hasher.Hash", err)
	}
	return Encode(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, using the parameters stored in encoded
// and a constant-time comparison. An error means the hash could not be read or ctx ended,
// never a wrong password.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	const op = "password.Hasher.Verify"
	p, salt, want, err := Decode(encoded)
	if err != nil {
		return false, errs.Wrap(op, err)
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, errs.Wrap(op, err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DummyVerify does the work of one verification and discards it, for accounts that do not
// exist, so that their sign-ins take as long as real ones.
func (h *Hasher) DummyVerify(ctx context.Context, password string) {
	_, _ = h.Verify(ctx, password, h.dummy)
}

// NeedsRehash reports whether encoded was made with other parameters than the Hasher's, so
// the password should be hashed again after it verified.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := Decode(encoded)
	return err != nil || p != h.params
}

// derive runs argon2id in one of the Hasher's slots.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, &errs.Error{Kind: errs.Unavailable, Msg: "too busy to check the password", Err: ctx.Err()}
	}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}
