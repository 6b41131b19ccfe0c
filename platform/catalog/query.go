package catalog

import (
	"strings"
	"unicode"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/errs"
)

// Page sizes of lists and searches.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Filter narrows lists and searches; zero fields match everything.
type Filter struct {
	// Domain and Owner match exactly.
	Domain, Owner string
	// Classification matches exactly; UNSPECIFIED matches every product.
	Classification platformv1.Classification
	// HasPII, when set, keeps only products with (true) or without (false) PII fields.
	HasPII *bool
}

// Query asks for one page of products.
type Query struct {
	// Search makes it a text search for Text, best matches first; otherwise products come
	// ordered by name and Text is ignored.
	Search bool
	// Text is the search text.
	Text string
	// Filter narrows the products.
	Filter Filter
	// PageSize is the most products per page: 0 means DefaultPageSize, more than MaxPageSize
	// means MaxPageSize.
	PageSize int
	// PageToken continues from a previous page of the same query.
	PageToken string
}

// Page is one page of products.
type Page struct {
	// Products are the page's products, in the query's order.
	Products []Summary
	// NextPageToken continues the query; empty on the last page.
	NextPageToken string
}

// Normalize returns q with its page size resolved, or an errs.Invalid error naming
// page_size when it is negative.
func (q Query) Normalize() (Query, error) {
	switch {
	case q.PageSize < 0:
		return q, errs.BadRequest("catalog.Query", errs.Violation{Field: "page_size", Description: "must not be negative"})
	case q.PageSize == 0:
		q.PageSize = DefaultPageSize
	case q.PageSize > MaxPageSize:
		q.PageSize = MaxPageSize
	}
	if !q.Search {
		q.Text = ""
	}
	return q, nil
}

// SearchText is what a product is found by, in four parts of falling weight. Each part is
// lower-case words separated by spaces (see Words).
type SearchText struct {
	// Name holds the product id's parts and the payload message's name.
	Name string
	// Labels holds the tags, the domain and the owner.
	Labels string
	// Description holds the description.
	Description string
	// Fields holds the payload's field names, nested ones too.
	Fields string
}

// SearchDocument returns what d is found by. fields are the payload's field paths
// ("user.email"); every name along a path is indexed.
func SearchDocument(d *platformv1.DataProductDescriptor, fields []string) SearchText {
	join := func(parts ...string) string { return strings.Join(Words(strings.Join(parts, " ")), " ") }
	return SearchText{
		Name:        join(d.GetName(), d.GetSchema().GetMessageName()),
		Labels:      join(append(append([]string{}, d.GetTags()...), d.GetDomain(), d.GetOwner())...),
		Description: join(d.GetDescription()),
		Fields:      join(fields...),
	}
}

// Words splits s into lower-case words of letters and digits, for indexing and for queries
// alike: every other character separates words, and so does a change from lower to upper
// case, whose joined form is kept too ("CleanReading" gives "clean", "reading" and
// "cleanreading"; "machine_id" gives "machine" and "id").
func Words(s string) []string {
	var out []string
	for token := range strings.FieldsFuncSeq(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		parts := camelParts(token)
		for _, p := range parts {
			out = append(out, strings.ToLower(p))
		}
		if len(parts) > 1 {
			out = append(out, strings.ToLower(token))
		}
	}
	return out
}

// camelParts splits a token at lower-to-upper case changes.
func camelParts(token string) []string {
	var parts []string
	start := 0
	runes := []rune(token)
	for i := 1; i < len(runes); i++ {
		if unicode.IsUpper(runes[i]) && unicode.IsLower(runes[i-1]) {
			parts = append(parts, string(runes[start:i]))
			start = i
		}
	}
	return append(parts, string(runes[start:]))
}
