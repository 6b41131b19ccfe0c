package catalog

import (
	"context"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/errs"
)

// Store keeps the registry. Implementations: catalog/postgres.
type Store interface {
	// Register runs decide on the product's current entry (nil when name is new) inside one
	// transaction that holds the product's lock, and when the change is Changed saves the
	// new entry, its revision history row and its change event, all in that transaction.
	// decide's error is returned as it is.
	Register(ctx context.Context, name string, decide func(prev *Entry) (Change, error)) (Change, error)
	// Product returns the current entry, or an errs.NotFound error.
	Product(ctx context.Context, name string) (Entry, error)
	// List returns one page of a normalized query; a page token that does not belong to the
	// query is an errs.Invalid error naming page_token.
	List(ctx context.Context, q Query) (Page, error)
	// Links returns every registered product's lineage links.
	Links(ctx context.Context) ([]Links, error)
}

// Observer reads what JetStream shows about a product's stream. Implementations:
// catalog/observe. Observe never fails: an unreadable stream is Observed.Readable false.
type Observer interface {
	Observe(ctx context.Context, stream, productID string) Observed
}

// Catalog is the catalog's use cases over a Store and an Observer.
type Catalog struct {
	store    Store
	observer Observer
	now      func() time.Time
}

// Option changes how New builds a Catalog.
type Option func(*Catalog)

// WithClock makes the catalog read the time from now (tests).
func WithClock(now func() time.Time) Option { return func(c *Catalog) { c.now = now } }

// New returns a catalog over store and observer.
func New(store Store, observer Observer, opts ...Option) *Catalog {
	c := &Catalog{store: store, observer: observer, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Register records d (see the package doc): governance first, then, in the store's
// transaction, the idempotency and compatibility decision.
func (c *Catalog) Register(ctx context.Context, d *platformv1.DataProductDescriptor) (Change, error) {
	const op = "catalog.Register"
	cand, err := Check(d)
	if err != nil {
		return Change{}, errs.Wrap(op, err)
	}
	// Postgres keeps microseconds; the change reports the times as they are stored.
	now := c.now().UTC().Truncate(time.Microsecond)
	ch, err := c.store.Register(ctx, cand.Descriptor.GetName(), func(prev *Entry) (Change, error) {
		return Decide(prev, cand, now)
	})
	return ch, errs.Wrap(op, err)
}

// List returns one page of products.
func (c *Catalog) List(ctx context.Context, q Query) (Page, error) {
	const op = "catalog.List"
	q, err := q.Normalize()
	if err != nil {
		return Page{}, errs.Wrap(op, err)
	}
	p, err := c.store.List(ctx, q)
	return p, errs.Wrap(op, err)
}

// Product returns a product's current entry, or an errs.NotFound error.
func (c *Catalog) Product(ctx context.Context, name string) (Entry, error) {
	const op = "catalog.Product"
	if name == "" {
		return Entry{}, errs.BadRequest(op, errs.Violation{Field: "name", Description: "is required"})
	}
	e, err := c.store.Product(ctx, name)
	return e, errs.Wrap(op, err)
}

// Detail is a product's contract with the state observed on its stream.
type Detail struct {
	Entry     Entry
	Observed  Observed
	Freshness Freshness
}

// Detail returns a product's entry and what its stream shows now.
func (c *Catalog) Detail(ctx context.Context, name string) (Detail, error) {
	e, err := c.Product(ctx, name)
	if err != nil {
		return Detail{}, err
	}
	o := c.observer.Observe(ctx, e.Descriptor.GetStream(), e.Name())
	return Detail{Entry: e, Observed: o, Freshness: Assess(o, e.Descriptor.GetFreshnessObjective().AsDuration())}, nil
}

// Freshness observes a listed product's stream and returns its verdict.
func (c *Catalog) Freshness(ctx context.Context, s Summary) Freshness {
	return Assess(c.observer.Observe(ctx, s.Stream, s.Name), s.Freshness)
}

// Lineage returns the graph around a registered product (see BuildLineage), observing the
// stream of every product in it. depth is resolved by LineageDepth.
func (c *Catalog) Lineage(ctx context.Context, name string, depth int) (Graph, error) {
	const op = "catalog.Lineage"
	depth, err := LineageDepth(depth)
	if err != nil {
		return Graph{}, errs.Wrap(op, err)
	}
	if _, err := c.Product(ctx, name); err != nil {
		return Graph{}, errs.Wrap(op, err)
	}
	links, err := c.store.Links(ctx)
	if err != nil {
		return Graph{}, errs.Wrap(op, err)
	}
	streams := make(map[string]string, len(links))
	for _, l := range links {
		streams[l.ID] = l.Stream
	}
	consumers := map[string][]string{}
	for _, id := range BuildLineage(name, depth, links, nil).Products() {
		if stream, ok := streams[id]; ok {
			consumers[id] = c.observer.Observe(ctx, stream, id).ConsumerDomains()
		}
	}
	return BuildLineage(name, depth, links, consumers), nil
}
