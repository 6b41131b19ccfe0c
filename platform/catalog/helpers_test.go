package catalog_test

import (
	"slices"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/dataproduct"
)

// summaries is a product declared the way domains declare theirs.
var summaries = dataproduct.Product{
	Domain: "quality", Name: "summaries", Major: 1,
	Owner: "quality-team", Contact: "#quality",
	Description:    "One line per catalog product, republished for dashboards.",
	Message:        &platformv1.ProductSummary{},
	Classification: dataproduct.ClassInternal,
	Freshness:      time.Minute,
}

type field = catalogtest.Field

const (
	tString = catalogtest.String
	tInt32  = catalogtest.Int32
)

var baseFields = catalogtest.BaseFields

// readings is lab.readings.v1 with the given payload fields.
func readings(fields ...field) *platformv1.DataProductDescriptor {
	return catalogtest.Descriptor("lab.readings.v1", fields...)
}

// contacts is crm.contacts.v1, whose email is marked PII (pii_fields not listed).
func contacts() *platformv1.DataProductDescriptor {
	return catalogtest.Descriptor("crm.contacts.v1", field{Name: "contact_id", Number: 1, Type: tString}, field{Name: "email", Number: 2, Type: tString, PII: true})
}

func plus(fields []field, more ...field) []field { return append(slices.Clone(fields), more...) }
