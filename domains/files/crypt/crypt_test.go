package crypt_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"meshwork.dev/domains/files/crypt"
)

type memSource []byte

func (m memSource) OpenAt(off int64) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m[off:])), nil
}

func seal(t *testing.T, c crypt.Cipher, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := crypt.NewWriter(&buf, c)
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newCipher(t *testing.T, id string) *crypt.FileCipher {
	t.Helper()
	k, err := crypt.NewKEK(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	_, dk := k.NewDataKey(id)
	c, err := crypt.NewFileCipher(id, dk)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTripAndRange(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, crypt.ChunkSize - 1, crypt.ChunkSize, crypt.ChunkSize + 1, 3*crypt.ChunkSize + 17} {
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		c := newCipher(t, "f1")
		sealed := seal(t, c, plain)
		if int64(len(sealed)) != crypt.SealedSize(int64(size)) {
			t.Fatalf("size %d: sealed %d bytes, SealedSize says %d", size, len(sealed), crypt.SealedSize(int64(size)))
		}
		r := crypt.NewReader(memSource(sealed), c, int64(size))
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: round trip differs (err %v)", size, err)
		}
		if size > 10 {
			off := int64(size) - 10
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain[off:]) {
				t.Fatalf("size %d: range read differs (err %v)", size, err)
			}
		}
	}
}

func TestTamperingRefused(t *testing.T) {
	t.Parallel()
	plain := make([]byte, 2*crypt.ChunkSize+5)
	c := newCipher(t, "f1")
	sealed := seal(t, c, plain)
	flipped := bytes.Clone(sealed)
	flipped[10] ^= 1
	swapped := append(append(bytes.Clone(sealed[crypt.SealedChunkSize:2*crypt.SealedChunkSize]), sealed[:crypt.SealedChunkSize]...), sealed[2*crypt.SealedChunkSize:]...)
	other := newCipher(t, "f2")
	for name, tc := range map[string]struct {
		data []byte
		c    crypt.Cipher
		size int64
	}{
		"bit flipped":      {flipped, c, int64(len(plain))},
		"chunks swapped":   {swapped, c, int64(len(plain))},
		"truncated":        {sealed[:2*crypt.SealedChunkSize], c, 2 * crypt.ChunkSize},
		"other file's key": {sealed, other, int64(len(plain))},
	} {
		if _, err := io.ReadAll(crypt.NewReader(memSource(tc.data), tc.c, tc.size)); err == nil {
			t.Errorf("%s: read succeeded", name)
		}
	}
}

func TestRewrap(t *testing.T) {
	t.Parallel()
	old, _ := crypt.NewKEK(bytes.Repeat([]byte{1}, 32))
	next, _ := crypt.NewKEK(bytes.Repeat([]byte{2}, 32))
	w, dk := old.NewDataKey("f")
	nw, err := next.Rewrap(old, "f", w)
	if err != nil {
		t.Fatal(err)
	}
	if nw.KEKID != next.ID() || nw.KEKID == w.KEKID {
		t.Fatalf("kek id %s after rewrap", nw.KEKID)
	}
	got, err := next.Unwrap("f", nw)
	if err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("unwrap after rewrap: %v", err)
	}
	if _, err := old.Unwrap("f", nw); err == nil {
		t.Fatal("old KEK opened the rewrapped key")
	}
	if _, err := next.Unwrap("g", nw); err == nil {
		t.Fatal("key opened for another file")
	}
	if _, err := crypt.ParseKEK("not base64!"); err == nil {
		t.Fatal("bad KEK parsed")
	}
}
