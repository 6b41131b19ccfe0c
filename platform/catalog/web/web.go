// Package web is the mesh's web console, served by the catalog: a searchable list of data
// products with facets, a page per product (contract, schema fields, freshness with a chart of
// events per minute, consumers and lag, versions and changes, the ODCS export), the lineage
// graph drawn as SVG, live events over Server-Sent Events, the health of every service,
// sign-in with the mesh's identity, and access requests, grants and the audit trail.
//
// Pages are html/template rendered on the server; a small vanilla script (static/console.js)
// only drives the live events page. Every asset is embedded; nothing is loaded from elsewhere.
package web

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/errs"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the console is built from. Only Catalog is required: without the others the
// pages that need them say what is not configured.
type Config struct {
	// Catalog is the registry the pages show.
	Catalog *catalog.Catalog
	// Log receives failures; nil means slog.Default().
	Log *slog.Logger
	// JetStream reads streams for charts, stream snapshots and live events.
	JetStream jetstream.JetStream
	// Revisions returns a product's revisions, oldest first (catalog/postgres Store.Revisions).
	Revisions func(ctx context.Context, name string) ([]catalog.Entry, error)
	// ODCS renders the product's contract export; zero Options omit server details.
	ODCS odcs.Options
	// Identity signs users in; nil disables sign-in and the pages that need it.
	Identity Identity
	// Access is the access-request and grant API; nil hides the access pages.
	Access Access
	// Services are the services whose readiness and metrics the health page shows.
	Services []Endpoint
	// HTTPClient reads the services' probes; nil means a client with a 2 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Console serves the pages.
type Console struct {
	cfg     Config
	log     *slog.Logger
	pages   map[string]*template.Template
	streams *streamCache
	users   *userCache
}

// Register adds the console to mux with only the catalog (no sign-in, charts, live events or
// health): the shape the catalog binary has always called. A nil log uses slog.Default().
func Register(mux *http.ServeMux, cat *catalog.Catalog, log *slog.Logger) {
	New(Config{Catalog: cat, Log: log}).Register(mux)
}

// New builds a console from cfg.
func New(cfg Config) *Console {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, log: cfg.Log, pages: parsePages(), users: newUserCache(cfg.Now)}
	c.streams = newStreamCache(cfg.JetStream, cfg.Now)
	return c
}

// Register adds every page to mux.
func (c *Console) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /{$}", c.search)
	mux.HandleFunc("GET /products/{name}", c.product)
	mux.HandleFunc("GET /products/{name}/odcs.yaml", c.odcsExport)
	mux.HandleFunc("GET /products/{name}/odps.yaml", c.odpsExport)
	mux.HandleFunc("GET /products/{name}/chart.svg", c.chartSVG)
	mux.HandleFunc("GET /lineage/{name}", c.lineage)
	mux.HandleFunc("GET /products/{name}/events", c.eventsPage)
	mux.HandleFunc("GET /products/{name}/events/stream", c.eventsStream)
	mux.HandleFunc("GET /health", c.health)
	mux.HandleFunc("GET /signin", c.signinPage)
	mux.HandleFunc("POST /signin", c.signin)
	mux.HandleFunc("POST /signout", c.signout)
	mux.HandleFunc("POST /products/{name}/access", c.requestAccess)
	mux.HandleFunc("GET /access", c.accessQueue)
	mux.HandleFunc("POST /access/{id}/{decision}", c.decide)
	mux.HandleFunc("GET /audit", c.audit)
}

// cacheStatic lets browsers keep the embedded assets for an hour.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// page is what every template gets: the page's title and data, and the signed-in user.
type page struct {
	Title string
	// Nav names the section the page belongs to, for aria-current.
	Nav  string
	User *User
	// SignIn reports whether sign-in is configured; AccessOn whether access pages are.
	SignIn, AccessOn bool
	Data             any
}

// render executes the named page into a buffer first, so a failing template yields a clean
// error page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name, title, nav string, data any) {
	c.renderStatus(w, r, http.StatusOK, name, title, nav, data)
}

func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	p := page{Title: title, Nav: nav, User: c.user(r), SignIn: c.cfg.Identity != nil, AccessOn: c.cfg.Access != nil, Data: data}
	var b bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		c.fail(w, r, errs.Wrap("web.render", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = b.WriteTo(w)
}

// fail answers with the error's status and message; internal errors are logged and shown
// without detail.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch errs.KindOf(err) {
	case errs.NotFound:
		code = http.StatusNotFound
	case errs.Invalid:
		code = http.StatusBadRequest
	case errs.Unavailable:
		code = http.StatusServiceUnavailable
	case errs.Unauthenticated:
		code = http.StatusUnauthorized
	case errs.Forbidden:
		code = http.StatusForbidden
	case errs.FailedPrecondition, errs.Conflict:
		code = http.StatusConflict
	default:
		c.log.ErrorContext(r.Context(), "web console failed", "path", r.URL.Path, "err", err)
	}
	msg := errs.Message(err)
	if code == http.StatusInternalServerError {
		msg = "internal error"
	}
	for _, v := range errs.Violations(err) {
		msg += "; " + v.Field + " " + v.Description
	}
	var b bytes.Buffer
	p := page{Title: http.StatusText(code), SignIn: c.cfg.Identity != nil, AccessOn: c.cfg.Access != nil, Data: msg}
	if c.pages["error"].ExecuteTemplate(&b, "layout", p) != nil {
		http.Error(w, msg, code)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = b.WriteTo(w)
}
