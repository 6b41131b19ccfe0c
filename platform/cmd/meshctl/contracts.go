package main

// The contracts' generated packages, linked in so that `meshctl lint --contracts` finds
// their messages in the global protobuf registry. Add every new package under
// contracts/gen/go here: TestContractsLinked fails until it is.
import (
	_ "meshwork.dev/contracts/gen/go/mesh/files/v1"
	_ "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	_ "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	_ "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	_ "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	_ "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
)
