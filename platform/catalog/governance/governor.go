package governance

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/access"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/postgres"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/natsauth"
)

// Store keeps the requests (the catalog's postgres store).
type Store interface {
	CreateRequest(ctx context.Context, r access.Request, events ...*nats.Msg) error
	Request(ctx context.Context, id string) (access.Request, error)
	UpdateRequest(ctx context.Context, r access.Request, from access.State, events ...*nats.Msg) error
	Requests(ctx context.Context, f postgres.AccessFilter) ([]access.Request, string, error)
	Grants(ctx context.Context, namespace string, now time.Time) ([]access.Request, error)
	DueExpiries(ctx context.Context, now time.Time) ([]access.Request, error)
	Seed(ctx context.Context, r access.Request, events ...*nats.Msg) (bool, error)
}

// Products finds a product in the catalog (catalog.Catalog).
type Products interface {
	Product(ctx context.Context, name string) (catalog.Entry, error)
}

// Governor decides access. Changes take effect on the data path through Enforce: the
// namespace's connections are cut and reconnect with the permissions that hold now.
type Governor struct {
	store    Store
	products Products
	// Enforce cuts the live connections of a namespace's principals; nil does nothing.
	Enforce func(namespace string)
	// Auditor writes entries with no database change behind them; nil drops them.
	Auditor *Auditor
	now     func() time.Time
	log     *slog.Logger
}

// New returns a governor over store and products.
func New(store Store, products Products, log *slog.Logger) *Governor {
	if log == nil {
		log = slog.Default()
	}
	return &Governor{store: store, products: products, now: time.Now, log: log}
}

// domainOf returns the owning domain of product id, "" when the catalog does not know it.
func (g *Governor) domainOf(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	e, err := g.products.Product(ctx, id)
	switch {
	case errs.Is(err, errs.NotFound), errs.Is(err, errs.Invalid):
		return "", nil
	case err != nil:
		return "", err
	}
	return e.Descriptor.GetDomain(), nil
}

// productEntry returns product id's catalog entry; an unknown product reads as one without
// PII fields (it has no stream the grant could open anyway).
func (g *Governor) productEntry(ctx context.Context, id string) (catalog.Entry, error) {
	e, err := g.products.Product(ctx, id)
	if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) {
		return catalog.Entry{Descriptor: &platformv1.DataProductDescriptor{}}, nil
	}
	return e, err
}

// Request records c's request.
func (g *Governor) Request(ctx context.Context, c access.Caller, ask access.Ask) (access.Request, error) {
	const op = "governance.Request"
	owner, err := g.domainOf(ctx, ask.Product)
	if err != nil {
		return access.Request{}, errs.Wrap(op, err)
	}
	r, err := access.NewRequest(uuid.NewString(), c, ask, owner, g.now())
	if err != nil {
		return access.Request{}, err
	}
	events, err := g.events(ctx, r, "access.requested", c.Subject)
	if err != nil {
		return access.Request{}, errs.Wrap(op, err)
	}
	return r, g.store.CreateRequest(ctx, r, events...)
}

// Decide approves or denies request id as c.
func (g *Governor) Decide(ctx context.Context, c access.Caller, id string, approve bool, reason string) (access.Request, error) {
	const op = "governance.Decide"
	r, owner, err := g.load(ctx, id)
	if err != nil {
		return access.Request{}, err
	}
	d, err := access.Decide(r, c, approve, reason, owner, g.now())
	if err != nil {
		g.audit(ctx, c.Subject, "access.decide-refused", r.Product, errs.Message(err))
		return access.Request{}, err
	}
	action := "access.denied"
	if approve {
		action = "access.approved"
	}
	events, err := g.events(ctx, d, action, c.Subject)
	if err != nil {
		return access.Request{}, errs.Wrap(op, err)
	}
	if err := g.store.UpdateRequest(ctx, d, r.State, events...); err != nil {
		return access.Request{}, err
	}
	if approve {
		g.enforce(d.Namespace)
	}
	return d, nil
}

// Revoke ends grant id as c and cuts the holder's live access.
func (g *Governor) Revoke(ctx context.Context, c access.Caller, id, reason string) (access.Request, error) {
	const op = "governance.Revoke"
	r, owner, err := g.load(ctx, id)
	if err != nil {
		return access.Request{}, err
	}
	d, err := access.Revoke(r, c, reason, owner, g.now())
	if err != nil {
		return access.Request{}, err
	}
	events, err := g.events(ctx, d, "access.revoked", c.Subject)
	if err != nil {
		return access.Request{}, errs.Wrap(op, err)
	}
	if err := g.store.UpdateRequest(ctx, d, r.State, events...); err != nil {
		return access.Request{}, err
	}
	g.enforce(d.Namespace)
	return d, nil
}

func (g *Governor) load(ctx context.Context, id string) (access.Request, string, error) {
	if id == "" {
		return access.Request{}, "", errs.BadRequest("governance", errs.Violation{Field: "id", Description: "is required"})
	}
	r, err := g.store.Request(ctx, id)
	if err != nil {
		return access.Request{}, "", err
	}
	owner, err := g.domainOf(ctx, r.Product)
	if err != nil {
		return access.Request{}, "", err
	}
	if owner == "" {
		owner = access.Domain(r.Product)
	}
	return r, owner, nil
}

// List returns the requests c may see that match f: an admin all, others their own and
// those of the domains they own (scope <domain>:owner).
func (g *Governor) List(ctx context.Context, c access.Caller, f postgres.AccessFilter) ([]access.Request, string, error) {
	if !c.Admin() {
		f.Namespaces = []string{c.Namespace()}
		f.Domains = []string{}
		for _, s := range c.Scopes {
			if d, ok := strings.CutSuffix(s, ":owner"); ok {
				f.Domains = append(f.Domains, d)
			}
		}
	}
	return g.store.Requests(ctx, f)
}

// Grants returns the grants in force for namespace, as the callout wants them.
func (g *Governor) Grants(ctx context.Context, namespace string) ([]natsauth.Grant, error) {
	rs, err := g.store.Grants(ctx, namespace, g.now())
	if err != nil {
		return nil, err
	}
	out := make([]natsauth.Grant, 0, len(rs))
	for _, r := range rs {
		gr := natsauth.Grant{Product: r.Product, PII: r.PII}
		if !r.PII {
			// Without PII a product with PII fields is read through its redacted view.
			e, err := g.productEntry(ctx, r.Product)
			if err != nil {
				return nil, err
			}
			gr.View = len(e.Descriptor.GetPiiFields()) > 0
		}
		out = append(out, gr)
	}
	return out, nil
}

// ExpireDue marks the grants whose expiry has passed as expired and cuts their holders' live
// access. It returns how many it expired.
func (g *Governor) ExpireDue(ctx context.Context) (int, error) {
	due, err := g.store.DueExpiries(ctx, g.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range due {
		d := r
		d.State, d.DecidedAt, d.Reason = access.Expired, g.now().UTC(), "expired at "+r.ExpiresAt.Format(time.RFC3339)
		events, err := g.events(ctx, d, "access.expired", "governance")
		if err != nil {
			return n, err
		}
		if err := g.store.UpdateRequest(ctx, d, access.Approved, events...); err != nil {
			if errs.Is(err, errs.FailedPrecondition) {
				continue // revoked meanwhile
			}
			return n, err
		}
		g.enforce(d.Namespace)
		n++
	}
	return n, nil
}

// RunExpiry expires due grants every interval until ctx ends.
func (g *Governor) RunExpiry(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := g.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			g.log.WarnContext(ctx, "grant expiry", "err", err)
		} else if n > 0 {
			g.log.InfoContext(ctx, "grants expired", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Seed grants namespace read access to product, approved by the mesh's bootstrap, once: a
// seeded grant that is revoked later stays revoked.
func (g *Governor) Seed(ctx context.Context, namespace, product string, pii bool, purpose string) (bool, error) {
	now := g.now().UTC()
	r := access.Request{ID: uuid.NewString(), Product: product, Namespace: namespace, RequestedBy: "bootstrap", Purpose: purpose, PII: pii,
		ExpiresAt: now.Add(100 * 365 * 24 * time.Hour), State: access.Approved, DecidedBy: "bootstrap", CreatedAt: now, DecidedAt: now}
	events, err := g.events(ctx, r, "access.approved", "bootstrap")
	if err != nil {
		return false, err
	}
	return g.store.Seed(ctx, r, events...)
}

func (g *Governor) enforce(namespace string) {
	if g.Enforce != nil {
		g.Enforce(namespace)
	}
}

// events are the access change and its audit entry, for the outbox.
func (g *Governor) events(ctx context.Context, r access.Request, action, by string) ([]*nats.Msg, error) {
	change, err := dataproduct.NewMessage(ctx, AccessChanges, access.Domain(r.Product), &platformv1.AccessChanged{Request: ToProto(r)})
	if err != nil {
		return nil, err
	}
	entry, err := dataproduct.NewMessage(ctx, Audit, "access", AuditEntry(by, action, r.Product, "request "+r.ID+" for "+r.Namespace+
		piiNote(r.PII)+reasonNote(r.Reason)))
	if err != nil {
		return nil, err
	}
	return []*nats.Msg{change, entry}, nil
}

func piiNote(pii bool) string {
	if pii {
		return " with PII"
	}
	return ""
}

func reasonNote(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// AuditEntry builds one audit entry now.
func AuditEntry(principal, action, product, detail string) *platformv1.AuditEntry {
	return &platformv1.AuditEntry{Id: uuid.NewString(), Time: timestamppb.Now(), Principal: principal, Action: action,
		Product: product, Detail: detail}
}

// audit records an entry that has no database change behind it, straight on the stream.
func (g *Governor) audit(ctx context.Context, principal, action, product, detail string) {
	if g.Auditor != nil {
		g.Auditor.Record(AuditEntry(principal, action, product, detail))
	}
}

// ToProto renders r for the API and the events.
func ToProto(r access.Request) *platformv1.AccessRequest {
	out := &platformv1.AccessRequest{Id: r.ID, Product: r.Product, Namespace: r.Namespace, RequestedBy: r.RequestedBy,
		Purpose: r.Purpose, Pii: r.PII, ExpiresAt: timestamppb.New(r.ExpiresAt), State: StateProto(r.State),
		DecidedBy: r.DecidedBy, Reason: r.Reason, CreatedAt: timestamppb.New(r.CreatedAt)}
	if !r.DecidedAt.IsZero() {
		out.DecidedAt = timestamppb.New(r.DecidedAt)
	}
	return out
}

// StateProto maps a state to the contract's enum.
func StateProto(s access.State) platformv1.AccessState {
	switch s {
	case access.Pending:
		return platformv1.AccessState_ACCESS_STATE_PENDING
	case access.Approved:
		return platformv1.AccessState_ACCESS_STATE_APPROVED
	case access.Denied:
		return platformv1.AccessState_ACCESS_STATE_DENIED
	case access.Revoked:
		return platformv1.AccessState_ACCESS_STATE_REVOKED
	case access.Expired:
		return platformv1.AccessState_ACCESS_STATE_EXPIRED
	}
	return platformv1.AccessState_ACCESS_STATE_UNSPECIFIED
}

// StateFromProto maps the contract's enum to a state ("" for unspecified).
func StateFromProto(s platformv1.AccessState) access.State {
	for _, st := range []access.State{access.Pending, access.Approved, access.Denied, access.Revoked, access.Expired} {
		if StateProto(st) == s {
			return st
		}
	}
	return ""
}

// ProvisionStreams creates the governance products' streams: the access changes as any
// product, the audit trail with deletes and purges denied. An existing audit stream is left
// as it is (nobody may update it).
func ProvisionStreams(ctx context.Context, js jetstream.JetStream) error {
	if _, err := dataproduct.Provision(ctx, js, AccessChanges); err != nil {
		return err
	}
	cfg := dataproduct.StreamConfig(Audit)
	cfg.DenyDelete, cfg.DenyPurge = true, true
	if _, err := js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return errs.Wrap("governance.ProvisionStreams", err)
	}
	return nil
}
