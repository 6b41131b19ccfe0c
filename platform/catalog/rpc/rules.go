package rpc

import (
	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/auth"
)

// Roles that may register products: service accounts register their domain's products at
// start-up, admins may register by hand.
const (
	RoleService = "service"
	RoleAdmin   = "admin"
)

// Rules says who may call each CatalogService RPC. Registration needs a service or admin
// token; reads need any valid token (docs/adr/0005, superseding 0004): the metadata names
// owners, fields and consumers, so it is for the mesh's signed-in users and services only.
var Rules = auth.Rules{
	platformv1.CatalogService_RegisterProduct_FullMethodName: auth.AnyRole(RoleService, RoleAdmin),
	platformv1.CatalogService_ListProducts_FullMethodName:    auth.Authenticated(),
	platformv1.CatalogService_SearchProducts_FullMethodName:  auth.Authenticated(),
	platformv1.CatalogService_GetProduct_FullMethodName:      auth.Authenticated(),
	platformv1.CatalogService_GetLineage_FullMethodName:      auth.Authenticated(),
	platformv1.CatalogService_ExportProduct_FullMethodName:   auth.Authenticated(),
}
