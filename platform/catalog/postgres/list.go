package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/errs"
)

// pageToken is what an opaque page token holds: where the next page starts, and a digest of
// the query it belongs to. Lists continue after the last name (keyset); searches, ordered by
// rank, continue at an offset.
type pageToken struct {
	Query  string `json:"q"`
	After  string `json:"a,omitempty"`
	Offset int    `json:"o,omitempty"`
}

// queryDigest identifies a query's filter, text and kind, so a token is only accepted by
// the query that issued it.
func queryDigest(q catalog.Query) string {
	f := q.Filter
	pii := "any"
	if f.HasPII != nil {
		pii = strconv.FormatBool(*f.HasPII)
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%t\x00%s\x00%s\x00%s\x00%d\x00%s",
		q.Search, strings.Join(catalog.Words(q.Text), " "), f.Domain, f.Owner, f.Classification, pii))
	return hex.EncodeToString(sum[:8])
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t) // a struct of strings and ints always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken returns the token's position, or an errs.Invalid error naming page_token.
func decodeToken(q catalog.Query) (pageToken, error) {
	var t pageToken
	if q.PageToken == "" {
		return t, nil
	}
	bad := func(why string) error {
		return errs.BadRequest("postgres.decodeToken", errs.Violation{Field: "page_token", Description: why})
	}
	b, err := base64.RawURLEncoding.DecodeString(q.PageToken)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Offset < 0 {
		return t, bad("is not a page token of this API")
	}
	if t.Query != queryDigest(q) {
		return t, bad("belongs to another query: repeat the query and filter of the first page")
	}
	return t, nil
}

// List implements catalog.Store. Lists are ordered by name. Searches match every word of
// the text as a prefix (to_tsquery 'simple' with :*), ranked by ts_rank over the weighted
// search document, then by name; a search without words lists by name.
func (s *Store) List(ctx context.Context, q catalog.Query) (catalog.Page, error) {
	const op = "postgres.Store.List"
	tok, err := decodeToken(q)
	if err != nil {
		return catalog.Page{}, errs.Wrap(op, err)
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	f := q.Filter
	if f.Domain != "" {
		where = append(where, "domain = "+arg(f.Domain))
	}
	if f.Owner != "" {
		where = append(where, "owner = "+arg(f.Owner))
	}
	if f.Classification != 0 {
		where = append(where, "classification = "+arg(int32(f.Classification)))
	}
	if f.HasPII != nil {
		where = append(where, "has_pii = "+arg(*f.HasPII))
	}
	rank, order := "0::real", "name"
	words := catalog.Words(q.Text)
	if len(words) > 0 {
		tsq := arg(strings.Join(words, ":* & ") + ":*")
		where = append(where, "search @@ to_tsquery('simple', "+tsq+")")
		rank, order = "ts_rank(search, to_tsquery('simple', "+tsq+"))", "rank DESC, name"
	} else if tok.After != "" {
		where = append(where, "name > "+arg(tok.After))
	}
	sql := `SELECT name, domain, owner, description, classification, has_pii, tags, message_name, stream,
	freshness_us, revision, updated_at, ` + rank + ` AS rank FROM catalog_products`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY " + order + " LIMIT " + arg(q.PageSize+1)
	if len(words) > 0 {
		sql += " OFFSET " + arg(tok.Offset)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return catalog.Page{}, dbError(op, err)
	}
	products, err := pgx.CollectRows(rows, scanSummary)
	if err != nil {
		return catalog.Page{}, dbError(op, err)
	}
	var page catalog.Page
	if len(products) > q.PageSize {
		products = products[:q.PageSize]
		next := pageToken{Query: queryDigest(q)}
		if len(words) > 0 {
			next.Offset = tok.Offset + q.PageSize
		} else {
			next.After = products[len(products)-1].Name
		}
		page.NextPageToken = encodeToken(next)
	}
	page.Products = products
	return page, nil
}

func scanSummary(row pgx.CollectableRow) (catalog.Summary, error) {
	var (
		s         catalog.Summary
		class     int32
		freshness int64
		rank      float32
	)
	err := row.Scan(&s.Name, &s.Domain, &s.Owner, &s.Description, &class, &s.HasPII, &s.Tags,
		&s.MessageName, &s.Stream, &freshness, &s.Revision, &s.UpdatedAt, &rank)
	s.Classification = platformv1.Classification(class)
	s.Freshness = time.Duration(freshness) * time.Microsecond
	s.UpdatedAt = s.UpdatedAt.UTC()
	return s, err
}

// Links implements catalog.Store.
func (s *Store) Links(ctx context.Context) ([]catalog.Links, error) {
	const op = "postgres.Store.Links"
	rows, err := s.pool.Query(ctx, `SELECT name, domain, stream, upstreams FROM catalog_products ORDER BY name`)
	if err != nil {
		return nil, dbError(op, err)
	}
	links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Links, error) {
		var l catalog.Links
		err := r.Scan(&l.ID, &l.Domain, &l.Stream, &l.Upstreams)
		return l, err
	})
	if err != nil {
		return nil, dbError(op, err)
	}
	return links, nil
}
