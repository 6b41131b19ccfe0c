// Package presign signs and serves presigned transfer URLs on the files service's HTTP port:
// PUT /v1/files/{id}/content uploads the content of a pending file, once; GET downloads a
// stored file with Range support and its original name in Content-Disposition.
//
// A URL carries the method, the file id, the expiry (unix seconds), the maximum size (PUT)
// and a random nonce, signed with HMAC-SHA256 under the presign key. Anything changed breaks
// the signature; an expired URL is refused; a PUT URL's nonce is recorded when used, so it
// works once.
package presign

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"

	"meshwork.dev/platform/errs"
)

// Signer signs and checks URLs. It is safe for concurrent use.
type Signer struct {
	key  []byte
	base string
}

// NewSigner returns a Signer with HMAC key key, making URLs under base (e.g.
// "http://127.0.0.1:8002").
func NewSigner(key []byte, base string) *Signer { return &Signer{key: key, base: base} }

// DeriveKey derives the presign key from the KEK's raw bytes with HKDF-SHA256 (info
// "meshwork files presign v1"), for when PRESIGN_KEY is not set. Rotating the KEK then
// invalidates outstanding URLs.
func DeriveKey(kek []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, kek, nil, "meshwork files presign v1", 32)
	if err != nil {
		return nil, errs.Errorf("presign.DeriveKey", errs.Internal, "hkdf: %w", err)
	}
	return k, nil
}

// Grant is what a URL allows.
type Grant struct {
	Method  string // "PUT" or "GET"
	FileID  string
	Expires time.Time
	MaxSize int64 // PUT only
	Store   bool  // PUT only: store the file when the upload completes
	Nonce   string
}

func (s *Signer) mac(g Grant) string {
	h := hmac.New(sha256.New, s.key)
	store := "0"
	if g.Store {
		store = "1"
	}
	for _, part := range []string{g.Method, g.FileID, strconv.FormatInt(g.Expires.Unix(), 10), strconv.FormatInt(g.MaxSize, 10), store, g.Nonce} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// URL returns the signed URL for g, filling in a fresh nonce.
func (s *Signer) URL(g Grant) string {
	n := make([]byte, 16)
	_, _ = rand.Read(n)
	g.Nonce = hex.EncodeToString(n)
	q := url.Values{}
	q.Set("method", g.Method)
	q.Set("exp", strconv.FormatInt(g.Expires.Unix(), 10))
	if g.Method == "PUT" {
		q.Set("max", strconv.FormatInt(g.MaxSize, 10))
		if g.Store {
			q.Set("store", "1")
		}
	}
	q.Set("nonce", g.Nonce)
	q.Set("sig", s.mac(g))
	return s.base + "/v1/files/" + url.PathEscape(g.FileID) + "/content?" + q.Encode()
}

// Check returns the grant of a request for method on file id with query q at now:
// Unauthenticated if the signature is wrong, PermissionDenied if it expired.
func (s *Signer) Check(method, id string, q url.Values, now time.Time) (Grant, error) {
	const op = "presign.Check"
	exp, err1 := strconv.ParseInt(q.Get("exp"), 10, 64)
	var max int64
	var err2 error
	if method == "PUT" {
		max, err2 = strconv.ParseInt(q.Get("max"), 10, 64)
	}
	g := Grant{Method: method, FileID: id, Expires: time.Unix(exp, 0), MaxSize: max, Store: q.Get("store") == "1", Nonce: q.Get("nonce")}
	if err1 != nil || err2 != nil || q.Get("method") != method || g.Nonce == "" ||
		!hmac.Equal([]byte(s.mac(g)), []byte(q.Get("sig"))) {
		return Grant{}, errs.E(op, errs.Unauthenticated, "bad signature")
	}
	if !now.Before(g.Expires) {
		return Grant{}, errs.E(op, errs.Forbidden, "the URL has expired")
	}
	return g, nil
}
