package presign

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/file"
	"meshwork.dev/platform/errs"
)

// Store is what the handlers need from the store.
type Store interface {
	PutContent(ctx context.Context, id string, maxSize int64, store bool, r io.Reader) (*file.File, error)
	Open(ctx context.Context, p file.Principal, id string) (*file.File, *crypt.Reader, error)
	UseNonce(ctx context.Context, nonce string, expires time.Time) error
}

// Presigned is the principal of presigned downloads in the audit: the URL, not a token,
// authorised the read (whoever created the URL was checked then).
var Presigned = file.Principal{Subject: "presigned-url", Roles: []string{file.AdminRole}}

// Handler serves the presigned URLs.
type Handler struct {
	Signer *Signer
	Store  Store
	Log    *slog.Logger
	Now    func() time.Time
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("PUT /v1/files/{id}/content", h.put)
	mux.HandleFunc("GET /v1/files/{id}/content", h.get)
	mux.HandleFunc("HEAD /v1/files/{id}/content", h.get)
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request) {
	g, err := h.Signer.Check("PUT", r.PathValue("id"), r.URL.Query(), h.Now())
	if err == nil && r.ContentLength > g.MaxSize {
		err = errs.E("presign.put", errs.Invalid, "body exceeds the URL's maximum size")
	}
	if err == nil {
		err = h.Store.UseNonce(r.Context(), g.Nonce, g.Expires)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, err := h.Store.PutContent(r.Context(), g.FileID, g.MaxSize, g.Store, r.Body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	w.WriteHeader(http.StatusCreated)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	g, err := h.Signer.Check("GET", r.PathValue("id"), r.URL.Query(), h.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, rd, err := h.Store.Open(r.Context(), Presigned, g.FileID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", Disposition(f.Name))
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", f.Updated, rd)
}

// Disposition is an attachment Content-Disposition for name: an ASCII fallback with anything
// unsafe replaced by "_", and the exact name in RFC 5987/6266 filename*.
func Disposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' || r == ';' {
			return '_'
		}
		return r
	}, name)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + extValue(name)
}

// extValue percent-encodes every byte of s that is not an RFC 5987 attr-char.
func extValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

var statuses = map[errs.Kind]int{
	errs.Invalid: http.StatusBadRequest, errs.NotFound: http.StatusNotFound, errs.Conflict: http.StatusConflict,
	errs.FailedPrecondition: http.StatusConflict, errs.Forbidden: http.StatusForbidden,
	errs.Unauthenticated: http.StatusUnauthorized, errs.ResourceExhausted: http.StatusRequestEntityTooLarge,
	errs.Unavailable: http.StatusServiceUnavailable,
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, ok := statuses[errs.KindOf(err)]
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code, ok = http.StatusRequestEntityTooLarge, true
	}
	msg := errs.Message(err)
	if !ok {
		code, msg = http.StatusInternalServerError, "internal error"
		h.Log.ErrorContext(r.Context(), "presigned transfer", "err", err)
	}
	http.Error(w, msg, code)
}
