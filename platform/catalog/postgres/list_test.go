package postgres_test

import (
	"fmt"
	"slices"
	"testing"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/errs"
)

// seed registers a small catalog: lab readings (fields machine_id, value, unit), crm contacts
// with a PII email, and benches lab.bench-01 … lab.bench-05 whose descriptions mention
// "calibration".
func seed(t *testing.T, e env) {
	t.Helper()
	e.register(t, catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...))
	e.register(t, catalogtest.Descriptor("crm.contacts.v1",
		catalogtest.Field{Name: "contact_id", Number: 1, Type: catalogtest.String},
		catalogtest.Field{Name: "email", Number: 2, Type: catalogtest.String, PII: true}))
	for i := 1; i <= 5; i++ {
		d := catalogtest.Descriptor(fmt.Sprintf("lab.bench-%02d.v1", i), catalogtest.Field{Name: "bench_id", Number: 1, Type: catalogtest.String})
		d.Description = "Calibration runs of one test bench, for the lab dashboards."
		d.Tags = []string{"benches"}
		e.register(t, d)
	}
}

func names(p catalog.Page) []string {
	var out []string
	for _, s := range p.Products {
		out = append(out, s.Name)
	}
	return out
}

func TestListFiltersAndSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e)
	yes, no := true, false
	benches := []string{"lab.bench-01.v1", "lab.bench-02.v1", "lab.bench-03.v1", "lab.bench-04.v1", "lab.bench-05.v1"}
	tests := []struct {
		name string
		q    catalog.Query
		want []string
	}{
		{"all by name", catalog.Query{}, append([]string{"crm.contacts.v1"}, append(slices.Clone(benches), "lab.readings.v1")...)},
		{"domain", catalog.Query{Filter: catalog.Filter{Domain: "crm"}}, []string{"crm.contacts.v1"}},
		{"owner", catalog.Query{Filter: catalog.Filter{Owner: "crm-team"}}, []string{"crm.contacts.v1"}},
		{"classification", catalog.Query{Filter: catalog.Filter{Classification: platformv1.Classification_CLASSIFICATION_CONFIDENTIAL}}, []string{"crm.contacts.v1"}},
		{"has pii", catalog.Query{Filter: catalog.Filter{HasPII: &yes}}, []string{"crm.contacts.v1"}},
		{"has no pii", catalog.Query{Filter: catalog.Filter{HasPII: &no, Domain: "lab"}}, append(slices.Clone(benches), "lab.readings.v1")},
		{"field name", catalog.Query{Search: true, Text: "machine"}, []string{"lab.readings.v1"}},
		{"field name with underscore", catalog.Query{Search: true, Text: "contact_id"}, []string{"crm.contacts.v1"}},
		{"prefix of a word", catalog.Query{Search: true, Text: "calib"}, benches},
		{"tag", catalog.Query{Search: true, Text: "benches"}, benches},
		{"every word must match", catalog.Query{Search: true, Text: "bench readings"}, nil},
		{"search with a filter", catalog.Query{Search: true, Text: "lab", Filter: catalog.Filter{HasPII: &yes}}, nil},
		{"no words lists all", catalog.Query{Search: true, Text: " ?! ", Filter: catalog.Filter{Domain: "crm"}}, []string{"crm.contacts.v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := e.cat.List(e.ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(p); !slices.Equal(got, tt.want) || p.NextPageToken != "" {
				t.Errorf("got %v (next %q), want %v", got, p.NextPageToken, tt.want)
			}
		})
	}
}

func TestSearchRanksNameAboveDescription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e)
	d := catalogtest.Descriptor("lab.calibration.v1", catalogtest.Field{Name: "run_id", Number: 1, Type: catalogtest.String})
	e.register(t, d)
	p, err := e.cat.List(e.ctx, catalog.Query{Search: true, Text: "calibration"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); len(got) != 6 || got[0] != "lab.calibration.v1" {
		t.Errorf("got %v, want lab.calibration.v1 (name match) before the benches (description match)", got)
	}
	s := p.Products[0]
	if s.Domain != "lab" || s.Owner != "lab-team" || s.MessageName != "mesh.lab.v1.Payload" || s.Revision != 1 ||
		s.Stream != "LAB_CALIBRATION_V1" || s.Freshness.String() != "1m0s" || s.UpdatedAt.IsZero() {
		t.Errorf("summary = %+v", s)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e)
	for _, q := range []catalog.Query{{PageSize: 2}, {PageSize: 2, Search: true, Text: "lab"}} {
		t.Run(fmt.Sprintf("search=%t", q.Search), func(t *testing.T) {
			t.Parallel()
			all, err := e.cat.List(e.ctx, catalog.Query{Search: q.Search, Text: q.Text})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			pages := 0
			for {
				p, err := e.cat.List(e.ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(p.Products) > 2 {
					t.Fatalf("page of %d, want at most 2", len(p.Products))
				}
				got = append(got, names(p)...)
				if p.NextPageToken == "" {
					break
				}
				q.PageToken = p.NextPageToken
			}
			if want := names(all); !slices.Equal(got, want) || pages != (len(want)+1)/2 {
				t.Errorf("pages gave %v in %d pages, want %v", got, pages, want)
			}
		})
	}
}

func TestBadPageTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e)
	first, err := e.cat.List(e.ctx, catalog.Query{PageSize: 1, Filter: catalog.Filter{Domain: "lab"}})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %v %v", first, err)
	}
	for name, q := range map[string]catalog.Query{
		"garbage":       {PageToken: "not a token!"},
		"other filter":  {PageToken: first.NextPageToken, Filter: catalog.Filter{Domain: "crm"}},
		"from a list":   {PageToken: first.NextPageToken, Search: true, Text: "lab"},
		"valid base64":  {PageToken: "e30"},
		"negative size": {PageSize: -1},
	} {
		_, err := e.cat.List(e.ctx, q)
		vs := errs.Violations(err)
		want := "page_token"
		if q.PageSize < 0 {
			want = "page_size"
		}
		if !errs.Is(err, errs.Invalid) || len(vs) != 1 || vs[0].Field != want {
			t.Errorf("%s: %v, want invalid %s", name, err, want)
		}
	}
}
