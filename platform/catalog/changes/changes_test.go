package changes_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/changes"
	"meshwork.dev/platform/dataproduct"
)

func TestProductPassesGovernance(t *testing.T) {
	t.Parallel()
	c, err := catalog.Check(changes.Product.Descriptor())
	if err != nil {
		t.Fatalf("the catalog's own product is refused: %v", err)
	}
	if len(c.Warnings) > 0 {
		t.Errorf("the catalog's own product has warnings: %v", c.Warnings)
	}
	if id := changes.Product.ID(); id != "catalog.product-changes.v1" {
		t.Errorf("ID = %s", id)
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	d := &platformv1.DataProductDescriptor{
		Name: "quality.clean-readings.v1", Domain: "quality", Owner: "quality-team",
		Classification: platformv1.Classification_CLASSIFICATION_INTERNAL,
		Schema:         &platformv1.Schema{MessageName: "mesh.quality.v1.CleanReading"},
	}
	tests := []struct {
		kind catalog.ChangeKind
		want platformv1.ProductChangeKind
	}{
		{catalog.Registered, platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_REGISTERED},
		{catalog.Updated, platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_UPDATED},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			t.Parallel()
			ch := catalog.Change{Kind: tt.kind, Entry: catalog.Entry{Descriptor: d, Revision: 3, UpdatedAt: at}}
			msg, err := changes.Message(context.Background(), ch)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Subject != "dp.catalog.product-changes.v1.quality" {
				t.Errorf("subject = %s", msg.Subject)
			}
			if got := msg.Header.Get(dataproduct.HeaderTime); got != "2026-03-04T05:06:07Z" {
				t.Errorf("ce-time = %s", got)
			}
			if msg.Header.Get(dataproduct.HeaderMsgID) == "" {
				t.Error("no Nats-Msg-Id")
			}
			var ev platformv1.ProductChanged
			if err := proto.Unmarshal(msg.Data, &ev); err != nil {
				t.Fatal(err)
			}
			want := &platformv1.ProductChanged{
				Name: d.Name, Domain: "quality", Owner: "quality-team", Revision: 3, Kind: tt.want,
				Classification: d.Classification, MessageName: "mesh.quality.v1.CleanReading", ChangedAt: changes.Event(ch).ChangedAt,
			}
			if !proto.Equal(&ev, want) || !ev.ChangedAt.AsTime().Equal(at) {
				t.Errorf("event = %v, want %v", &ev, want)
			}
		})
	}
	if _, err := changes.Message(context.Background(), catalog.Change{Kind: catalog.Unchanged}); err == nil {
		t.Error("an unchanged registration made an event")
	}
}
