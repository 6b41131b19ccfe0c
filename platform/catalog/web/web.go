// Package web is the catalog's read-only web UI: a list of products with owner,
// classification and freshness (searchable), and a page per product with its contract, the
// state observed on its stream, its lineage as text and its schema as .proto source. Plain
// html/template pages, no JavaScript.
package web

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/protosrc"
	"meshwork.dev/platform/errs"
)

//go:embed templates/*.html
var templateFS embed.FS

var funcs = template.FuncMap{
	"class": func(c platformv1.Classification) string {
		return strings.ToLower(strings.TrimPrefix(c.String(), "CLASSIFICATION_"))
	},
	"dur": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	},
}

var (
	listPage    = template.Must(template.New("list").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/list.html"))
	productPage = template.Must(template.New("product").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/product.html"))
)

// listObserveTimeout bounds reading the streams of one list page.
const listObserveTimeout = 3 * time.Second

// UI serves the pages.
type UI struct {
	cat *catalog.Catalog
	log *slog.Logger
}

// Register adds the UI to mux: GET / (the list; ?q= searches, ?page= continues) and
// GET /products/{name} (one product; ?depth= sets the lineage depth). A nil log uses
// slog.Default().
func Register(mux *http.ServeMux, cat *catalog.Catalog, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	ui := &UI{cat: cat, log: log}
	mux.HandleFunc("GET /{$}", ui.list)
	mux.HandleFunc("GET /products/{name}", ui.product)
}

// row is a product's line in the list.
type row struct {
	catalog.Summary
	Freshness catalog.Freshness
}

func (ui *UI) list(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page, err := ui.cat.List(r.Context(), catalog.Query{Search: q != "", Text: q, PageSize: 100, PageToken: r.URL.Query().Get("page")})
	if err != nil {
		ui.fail(w, r, err)
		return
	}
	// One deadline for all the streams of the page: with JetStream down the page still
	// renders, every freshness UNKNOWN, instead of waiting for each stream in turn.
	ctx, cancel := context.WithTimeout(r.Context(), listObserveTimeout)
	defer cancel()
	rows := make([]row, len(page.Products))
	for i, s := range page.Products {
		rows[i] = row{Summary: s, Freshness: ui.cat.Freshness(ctx, s)}
	}
	ui.render(w, r, listPage, map[string]any{"Title": "Data products", "Query": q, "Rows": rows, "Next": page.NextPageToken})
}

func (ui *UI) product(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	depth, _ := strconv.Atoi(r.URL.Query().Get("depth"))
	d, err := ui.cat.Detail(r.Context(), name)
	if err != nil {
		ui.fail(w, r, err)
		return
	}
	g, err := ui.cat.Lineage(r.Context(), name, depth)
	if err != nil {
		ui.fail(w, r, err)
		return
	}
	files, err := protosrc.Render(d.Entry.Descriptor.GetSchema().GetFileDescriptorSet())
	if err != nil {
		ui.fail(w, r, errs.Wrap("web.product", err))
		return
	}
	ui.render(w, r, productPage, map[string]any{"Title": name, "Detail": d, "Lineage": g, "Files": files})
}

// render executes t into a buffer first, so a failing template yields a clean error page.
func (ui *UI) render(w http.ResponseWriter, r *http.Request, t *template.Template, data any) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		ui.fail(w, r, errs.Wrap("web.render", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = b.WriteTo(w)
}

// fail answers with the error's status: 404, 400 or 500 (logged, without detail).
func (ui *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch errs.KindOf(err) {
	case errs.NotFound:
		code = http.StatusNotFound
	case errs.Invalid:
		code = http.StatusBadRequest
	case errs.Unavailable:
		code = http.StatusServiceUnavailable
	default:
		ui.log.ErrorContext(r.Context(), "web UI failed", "path", r.URL.Path, "err", err)
	}
	http.Error(w, errs.Message(err), code)
}
