package mongo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	"meshwork.dev/domains/files/file"
	"meshwork.dev/domains/files/mongo"
)

// benchSize is the file size of the benchmarks.
const benchSize = 16 << 20

// BenchmarkStore measures upload and download MB/s through the store (FerretDB, GridFS) with
// AES-256-GCM and, as the baseline in the same run, with crypt.Plain (same framing, no
// encryption). Compare the pairs: go test -run '^$' -bench Store -count 5 ./mongo
func BenchmarkStore(b *testing.B) {
	data := make([]byte, benchSize)
	_, _ = rand.Read(data)
	for _, mode := range []struct {
		name string
		opts []mongo.Option
	}{{"aes-gcm", nil}, {"plain", []mongo.Option{mongo.WithoutEncryption()}}} {
		s, _ := newStore(b, kek(b, 1), mode.opts...)
		ctx := context.Background()
		p := file.Principal{Subject: "bench", Roles: []string{file.AdminRole}}
		b.Run("upload/"+mode.name, func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				if _, err := s.Upload(ctx, p, mongo.Meta{Name: "b", Size: benchSize, Store: true}, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		// A fresh database for the downloads: FerretDB's SQLite backend scans the whole chunks
		// collection per query, so the uploads above would otherwise dominate.
		s, _ = newStore(b, kek(b, 1), mode.opts...)
		f, err := s.Upload(ctx, p, mongo.Meta{Name: "b", Size: benchSize, Store: true}, bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("download/"+mode.name, func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				_, r, err := s.Open(ctx, p, f.ID)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, r)
				_ = r.Close()
				if err != nil || n != benchSize {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}
