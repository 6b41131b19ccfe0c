package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/errs"
)

// searchPageSize is how many products one page of results shows.
const searchPageSize = 50

// Facet names, as the query string spells them.
const (
	facetDomain    = "domain"
	facetOwner     = "owner"
	facetClass     = "classification"
	facetFreshness = "freshness"
	facetTag       = "tag"
)

var facetNames = []string{facetDomain, facetOwner, facetClass, facetFreshness, facetTag}

// result is a product's line in the results.
type result struct {
	catalog.Summary
	Class     string
	Freshness catalog.Freshness
}

// values are the facet values of a result.
func (r result) values(facet string) []string {
	switch facet {
	case facetDomain:
		return []string{r.Domain}
	case facetOwner:
		return []string{r.Owner}
	case facetClass:
		return []string{r.Class}
	case facetFreshness:
		return []string{strings.ToLower(r.Freshness.State.String())}
	case facetTag:
		return r.Tags
	}
	return nil
}

// Facet is one facet's values with their counts.
type Facet struct {
	Name   string
	Values []FacetValue
}

// FacetValue is one value, how many results have it given the other facets' selections, and
// whether it is selected.
type FacetValue struct {
	Value    string
	Count    int
	Selected bool
}

// selection is the facet values chosen, by facet; values of one facet are alternatives.
type selection map[string][]string

// matches reports whether r has one of the selected values of every facet but skip.
func (s selection) matches(r result, skip string) bool {
	for facet, want := range s {
		if facet == skip || len(want) == 0 {
			continue
		}
		if !slices.ContainsFunc(r.values(facet), func(v string) bool { return slices.Contains(want, v) }) {
			return false
		}
	}
	return true
}

// facets counts, for every facet, the values of the results that match the other facets'
// selections, so choosing a value shows what else could be chosen alongside it.
func facets(rs []result, sel selection) []Facet {
	out := make([]Facet, 0, len(facetNames))
	for _, name := range facetNames {
		counts := map[string]int{}
		for _, r := range rs {
			if !sel.matches(r, name) {
				continue
			}
			for _, v := range r.values(name) {
				counts[v]++
			}
		}
		for _, v := range sel[name] {
			if _, ok := counts[v]; !ok {
				counts[v] = 0
			}
		}
		f := Facet{Name: name}
		for v, n := range counts {
			f.Values = append(f.Values, FacetValue{Value: v, Count: n, Selected: slices.Contains(sel[name], v)})
		}
		slices.SortFunc(f.Values, func(a, b FacetValue) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Value, b.Value)
		})
		out = append(out, f)
	}
	return out
}

// searchQuery is a parsed search request.
type searchQuery struct {
	Text string
	Sel  selection
	Page int
}

// parseSearch reads q, the facets and page, or returns an errs.Invalid error naming the bad
// parameter.
func parseSearch(v url.Values) (searchQuery, error) {
	q := searchQuery{Text: strings.TrimSpace(v.Get("q")), Sel: selection{}, Page: 1}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return q, errs.BadRequest("web.search", errs.Violation{Field: "page", Description: "must be a whole number from 1"})
		}
		q.Page = n
	}
	for _, name := range facetNames {
		for _, val := range v[name] {
			if val = strings.TrimSpace(val); val != "" && !slices.Contains(q.Sel[name], val) {
				q.Sel[name] = append(q.Sel[name], val)
			}
		}
	}
	for _, c := range q.Sel[facetClass] {
		if !slices.Contains([]string{"public", "internal", "confidential", "restricted"}, c) {
			return q, errs.BadRequest("web.search", errs.Violation{Field: facetClass, Description: "must be public, internal, confidential or restricted, not " + strconv.Quote(c)})
		}
	}
	for _, f := range q.Sel[facetFreshness] {
		if !slices.Contains([]string{"fresh", "stale", "empty", "unknown"}, f) {
			return q, errs.BadRequest("web.search", errs.Violation{Field: facetFreshness, Description: "must be fresh, stale, empty or unknown, not " + strconv.Quote(f)})
		}
	}
	return q, nil
}

// encode is the query string of q at page n.
func (q searchQuery) encode(n int) string {
	v := url.Values{}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	for _, name := range facetNames {
		for _, val := range q.Sel[name] {
			v.Add(name, val)
		}
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	return v.Encode()
}

// allProducts reads every product matching the text, page after page.
func (c *Console) allProducts(ctx context.Context, text string) ([]catalog.Summary, error) {
	var out []catalog.Summary
	token := ""
	for {
		p, err := c.cfg.Catalog.List(ctx, catalog.Query{Search: text != "", Text: text, PageSize: catalog.MaxPageSize, PageToken: token})
		if err != nil {
			return nil, err
		}
		out = append(out, p.Products...)
		if token = p.NextPageToken; token == "" {
			return out, nil
		}
	}
}

// searchData is the search page's data.
type searchData struct {
	Query            searchQuery
	Results          []result
	Total            int
	Facets           []Facet
	Page, Pages      int
	PrevURL, NextURL string
	StreamsReadable  bool
}

func (c *Console) search(w http.ResponseWriter, r *http.Request) {
	q, err := parseSearch(r.URL.Query())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	sums, err := c.allProducts(r.Context(), q.Text)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	states, ok := c.streams.snapshot(r.Context())
	now := c.cfg.Now()
	all := make([]result, len(sums))
	for i, s := range sums {
		all[i] = result{Summary: s, Class: className(s.Classification), Freshness: c.streams.freshness(states, ok, s, now)}
	}
	var matched []result
	for _, res := range all {
		if q.Sel.matches(res, "") {
			matched = append(matched, res)
		}
	}
	d := searchData{Query: q, Total: len(matched), Facets: facets(all, q.Sel), Page: q.Page, StreamsReadable: ok}
	d.Pages = max(1, (len(matched)+searchPageSize-1)/searchPageSize)
	if start := (q.Page - 1) * searchPageSize; start < len(matched) {
		d.Results = matched[start:min(start+searchPageSize, len(matched))]
	}
	if q.Page > 1 {
		d.PrevURL = "/?" + q.encode(q.Page-1)
	}
	if q.Page < d.Pages {
		d.NextURL = "/?" + q.encode(q.Page+1)
	}
	c.render(w, r, "search", "Data products", "search", d)
}
