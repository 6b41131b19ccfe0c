package rpc

import (
	"slices"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
)

// BreakingStatusOf exposes breakingStatus to the tests.
var BreakingStatusOf = breakingStatus

// BreakingStatusForTest returns the status of a real refusal: lab.readings.v1 losing value and
// retyping unit.
func BreakingStatusForTest() error {
	v1, _ := catalog.Check(catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...))
	fields := slices.Clone(catalogtest.BaseFields[:1])
	fields = append(fields, catalogtest.Field{Name: "unit", Number: 3, Type: catalogtest.Int32})
	v2, _ := catalog.Check(catalogtest.Descriptor("lab.readings.v1", fields...))
	prev := catalog.Entry{Descriptor: v1.Descriptor, Fingerprint: v1.Fingerprint, Revision: 1}
	_, err := catalog.Decide(&prev, v2, prev.UpdatedAt)
	return breakingStatus(err)
}
