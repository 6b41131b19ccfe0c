package web

import (
	"html/template"
	"strings"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// className is a classification in lower case without its prefix ("confidential").
func className(c platformv1.Classification) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CLASSIFICATION_"))
}

var funcs = template.FuncMap{
	"class": className,
	"dur": func(d time.Duration) string {
		if d >= time.Minute {
			return d.Round(time.Second).String()
		}
		return d.Round(time.Millisecond).String()
	},
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"lower": strings.ToLower,
}

// pageFiles are the templates of each page, besides layout.html.
var pageFiles = map[string]string{
	"search":  "search.html",
	"product": "product.html",
	"lineage": "lineage.html",
	"events":  "events.html",
	"health":  "health.html",
	"signin":  "signin.html",
	"access":  "access.html",
	"audit":   "audit.html",
	"error":   "error.html",
}

// parsePages parses every page with the layout; a broken template stops the program at start.
func parsePages() map[string]*template.Template {
	out := make(map[string]*template.Template, len(pageFiles))
	for name, file := range pageFiles {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+file))
	}
	return out
}
