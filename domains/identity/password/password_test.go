package password_test

import (
	"context"
	"strings"
	"testing"

	"meshwork.dev/domains/identity/password"
)

// fast are cheap parameters so unit tests run quickly; the format is the same.
var fast = password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t testing.TB, p password.Params) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, fast)
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("encoded %q", enc)
	}
	again, _ := h.Hash(ctx, "correct horse battery")
	if again == enc {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}, {"correct horse battery ", false}} {
		ok, err := h.Verify(ctx, tt.pw, enc)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

// TestReferenceImplementation verifies a hash made by the argon2 reference implementation's
// command-line tool (Debian package argon2 0~20171227):
//
//	echo -n "correct horse battery" | argon2 saltsaltsalt -id -t 2 -m 10 -p 2 -l 32 -e
//
// Its parameters differ from the Hasher's, so this also shows verification uses the stored
// parameters.
func TestReferenceImplementation(t *testing.T) {
	t.Parallel()
	const ref = "$argon2id$v=19$m=1024,t=2,p=2$c2FsdHNhbHRzYWx0$AGlIk0RlRez0Sbn6ojmNC0xQvjkOlmmEa4UhCvba7ig"
	h := newHasher(t, fast)
	p, salt, key, err := password.Decode(ref)
	if err != nil {
		t.Fatal(err)
	}
	if p.Memory != 1024 || p.Time != 2 || p.Threads != 2 || string(salt) != "saltsaltsalt" || len(key) != 32 {
		t.Errorf("decoded %+v %q", p, salt)
	}
	if got := password.Encode(p, salt, key); got != ref {
		t.Errorf("re-encoded %q", got)
	}
	ok, err := h.Verify(context.Background(), "correct horse battery", ref)
	if err != nil || !ok {
		t.Fatalf("Verify(reference) = %v, %v", ok, err)
	}
	if !h.NeedsRehash(ref) {
		t.Error("a hash with other parameters does not need re-hashing")
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	t.Parallel()
	valid := "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$AGlIk0RlRez0Sbn6ojmNC0xQvjkOlmmEa4UhCvba7ig"
	if _, _, _, err := password.Decode(valid); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for _, enc := range []string{
		"",
		"plaintext",
		strings.Replace(valid, "argon2id", "argon2i", 1),
		strings.Replace(valid, "v=19", "v=16", 1),
		strings.Replace(valid, "m=1024", "m=999999999", 1), // beyond the memory bound
		strings.Replace(valid, "t=1", "t=0", 1),
		strings.Replace(valid, "p=1", "p=0", 1),
		strings.Replace(valid, "p=1", "p=1,x=2", 1),
		strings.Replace(valid, "c2FsdHNhbHRzYWx0", "c2Fs", 1), // 3-byte salt
		strings.Replace(valid, "c2FsdHNhbHRzYWx0", "!!!", 1),
	} {
		if _, _, _, err := password.Decode(enc); err == nil {
			t.Errorf("Decode(%q) accepted", enc)
		}
		ok, err := newHasher(t, fast).Verify(context.Background(), "x", enc)
		if ok || err == nil {
			t.Errorf("Verify with %q = %v, %v", enc, ok, err)
		}
	}
}

func TestNeedsRehashAndParams(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fast)
	enc, _ := h.Hash(context.Background(), "correct horse battery")
	if h.NeedsRehash(enc) {
		t.Error("own hash needs re-hashing")
	}
	if _, err := password.NewHasher(password.Params{Memory: 1024, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}, 1); err == nil {
		t.Error("NewHasher accepted t=0")
	}
	if err := password.Default.Validate(); err != nil {
		t.Errorf("Default: %v", err)
	}
}

// BenchmarkVerify measures one verification with the production parameters beside a
// baseline of the same password with minimal parameters (m=8 KiB, t=1): the ratio is what
// argon2id's cost buys. Logins per second per core ≈ 1e9 / (Default ns/op).
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		p    password.Params
	}{
		{"Default_m65536_t1_p1", password.Default},
		{"Baseline_m8_t1_p1", password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHasher(b, bc.p)
			enc, err := h.Hash(ctx, "correct horse battery staple")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := h.Verify(ctx, "correct horse battery staple", enc); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
