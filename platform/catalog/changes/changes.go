// Package changes declares the catalog's own data product, catalog.product-changes.v1, and
// builds its events. The catalog provisions the product's stream and registers the product
// with itself at start-up, so it is discoverable like any other; the postgres store enqueues
// one event per registration change through the transactional outbox.
package changes

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// Product is catalog.product-changes.v1: one mesh.platform.v1.ProductChanged per
// registration that created or changed a contract, keyed by the product's domain.
var Product = dataproduct.Product{
	Domain:  "catalog",
	Name:    "product-changes",
	Major:   1,
	Owner:   "platform-team",
	Contact: "#meshwork-platform",
	Description: "Every registration that creates or changes a data product's contract in the catalog, " +
		"keyed by the owning domain; subscribe to follow new products and schema revisions.",
	Tags:            []string{"catalog", "governance", "metadata"},
	Message:         &platformv1.ProductChanged{},
	Classification:  dataproduct.ClassInternal,
	Retention:       90 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute, // the outbox relay needs it: keep it explicit
	// Registrations change rarely: the objective only says the feed is alive at all.
	Freshness:      30 * 24 * time.Hour,
	KeyDescription: "domain of the changed product",
	ServedBy:       []string{"mesh.platform.v1.CatalogService"},
}

// Event returns the payload announcing change c.
func Event(c catalog.Change) *platformv1.ProductChanged {
	d := c.Entry.Descriptor
	kind := platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_UPDATED
	if c.Kind == catalog.Registered {
		kind = platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_REGISTERED
	}
	return &platformv1.ProductChanged{
		Name:           d.GetName(),
		Domain:         d.GetDomain(),
		Owner:          d.GetOwner(),
		Revision:       c.Entry.Revision,
		Kind:           kind,
		Classification: d.GetClassification(),
		MessageName:    d.GetSchema().GetMessageName(),
		ChangedAt:      timestamppb.New(c.Entry.UpdatedAt),
	}
}

// Message builds the event message for change c, ready for outbox.Enqueue: subject
// dp.catalog.product-changes.v1.<domain>, CloudEvents headers, a fresh event id and ce-time
// the commit time of the change. It fails for an unchanged registration.
func Message(ctx context.Context, c catalog.Change) (*nats.Msg, error) {
	const op = "changes.Message"
	if !c.Changed() {
		return nil, errs.E(op, errs.Internal, "an unchanged registration has no event")
	}
	msg, err := dataproduct.NewMessage(ctx, Product, c.Entry.Descriptor.GetDomain(), Event(c),
		dataproduct.WithEventTime(c.Entry.UpdatedAt))
	return msg, errs.Wrap(op, err)
}
