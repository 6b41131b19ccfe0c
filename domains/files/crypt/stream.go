package crypt

import (
	"errors"
	"fmt"
	"io"

	"meshwork.dev/platform/errs"
)

// Writer seals what is written to it chunk by chunk into an underlying writer. Close seals the
// final chunk; without Close the content is incomplete and will not open.
type Writer struct {
	dst    io.Writer
	c      Cipher
	buf    []byte
	sealed []byte
	index  uint64
	closed bool
}

// NewWriter returns a Writer sealing into dst with c.
func NewWriter(dst io.Writer, c Cipher) *Writer {
	return &Writer{dst: dst, c: c, buf: make([]byte, 0, ChunkSize), sealed: make([]byte, 0, ChunkSize+c.Overhead())}
}

// Write implements io.Writer. A full chunk is sealed only when more data follows, so the last
// chunk is always the one Close seals as final.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("crypt.Writer: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == ChunkSize {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):ChunkSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

func (w *Writer) flush(final bool) error {
	w.sealed = w.c.Seal(w.sealed[:0], w.buf, w.index, final)
	if _, err := w.dst.Write(w.sealed); err != nil {
		return fmt.Errorf("crypt.Writer: %w", err)
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// Close seals the final chunk. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.flush(true)
}

// Source opens the sealed content of a file from a ciphertext offset.
type Source interface {
	OpenAt(off int64) (io.ReadCloser, error)
}

// Reader decrypts a file of known plaintext size from a Source. It implements io.ReadSeeker
// (for http.ServeContent ranges): a seek reopens the source at the chunk holding the new
// offset, so only that chunk onwards is read and decrypted.
type Reader struct {
	src    Source
	c      Cipher
	size   int64
	pos    int64
	rc     io.ReadCloser
	next   uint64 // index of the chunk rc is positioned at
	chunk  []byte // opened chunk `index`
	index  int64  // index of chunk, -1 when none
	sealed []byte
}

// NewReader returns a Reader over the sealed content of a size-byte file.
func NewReader(src Source, c Cipher, size int64) *Reader {
	return &Reader{src: src, c: c, size: size, index: -1, sealed: make([]byte, SealedChunkSize)}
}

func (r *Reader) chunks() int64 {
	n := r.size / ChunkSize
	if r.size%ChunkSize != 0 || r.size == 0 {
		n++
	}
	return n
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		if r.size == 0 && r.index < 0 {
			// Open the one empty chunk anyway so a tampered empty file is noticed.
			if err := r.load(0); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	idx := r.pos / ChunkSize
	if idx != r.index {
		if err := r.load(idx); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.chunk[r.pos-idx*ChunkSize:])
	r.pos += int64(n)
	return n, nil
}

func (r *Reader) load(idx int64) error {
	const op = "crypt.Reader"
	if r.rc == nil || int64(r.next) != idx {
		if r.rc != nil {
			_ = r.rc.Close()
		}
		rc, err := r.src.OpenAt(idx * (ChunkSize + int64(r.c.Overhead())))
		if err != nil {
			return errs.Wrap(op, err)
		}
		r.rc, r.next = rc, uint64(idx)
	}
	final := idx == r.chunks()-1
	n := int64(ChunkSize + r.c.Overhead())
	if final {
		n = r.size - idx*ChunkSize + int64(r.c.Overhead())
	}
	buf := r.sealed[:n]
	if _, err := io.ReadFull(r.rc, buf); err != nil {
		return errs.Errorf(op, errs.Internal, "chunk %d: %w", idx, err)
	}
	r.next++
	out, err := r.c.Open(r.chunk[:0], buf, uint64(idx), final)
	if err != nil {
		r.index = -1
		return errs.Wrap(op, err)
	}
	r.chunk, r.index = out, idx
	return nil
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("crypt.Reader.Seek: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("crypt.Reader.Seek: negative position")
	}
	r.pos = abs
	return abs, nil
}

// Close releases the source.
func (r *Reader) Close() error {
	if r.rc == nil {
		return nil
	}
	err := r.rc.Close()
	r.rc = nil
	return err
}
