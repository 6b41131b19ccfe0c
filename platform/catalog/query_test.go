package catalog_test

import (
	"slices"
	"testing"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/errs"
)

func TestWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"quality.clean-readings.v1", []string{"quality", "clean", "readings", "v1"}},
		{"mesh.quality.v1.CleanReading", []string{"mesh", "quality", "v1", "clean", "reading", "cleanreading"}},
		{"machine_id, user.email", []string{"machine", "id", "user", "email"}},
		{"HTTPServer", []string{"httpserver"}},
		{"  ", nil},
		{"Größe & Maß", []string{"größe", "maß"}},
	}
	for _, tt := range tests {
		if got := catalog.Words(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQueryNormalize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want int }{{0, 50}, {1, 1}, {500, 500}, {501, 500}} {
		q, err := catalog.Query{PageSize: tt.in, Text: "x"}.Normalize()
		if err != nil || q.PageSize != tt.want || q.Text != "" {
			t.Errorf("page size %d: got %d %q %v, want %d and no text outside a search", tt.in, q.PageSize, q.Text, err, tt.want)
		}
	}
	if _, err := (catalog.Query{PageSize: -1}).Normalize(); !errs.Is(err, errs.Invalid) {
		t.Errorf("negative page size: %v, want invalid", err)
	}
}

func TestSearchDocument(t *testing.T) {
	t.Parallel()
	d := summaries.Descriptor()
	d.Tags = []string{"Dashboards"}
	doc := catalog.SearchDocument(d, []string{"name", "updated_at.seconds"})
	want := catalog.SearchText{
		Name:        "quality summaries v1 mesh platform v1 product summary productsummary",
		Labels:      "dashboards quality quality team",
		Description: "one line per catalog product republished for dashboards",
		Fields:      "name updated at seconds",
	}
	if doc != want {
		t.Errorf("SearchDocument =\n%+v\nwant\n%+v", doc, want)
	}
}
