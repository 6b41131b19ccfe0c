package rpc

import (
	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/auth"
)

// Rules says who may call each IdentityService RPC. Sign-in, refresh, logout, client
// credentials and the JWKS are public: they carry their own credentials. Handlers of the
// Authenticated RPCs refuse enrolment sessions except where the package doc allows them, and
// ListGrants shows non-admins only their own grants.
var Rules = auth.Rules{
	identityv1.IdentityService_Login_FullMethodName:             auth.Public(),
	identityv1.IdentityService_Refresh_FullMethodName:           auth.Public(),
	identityv1.IdentityService_Logout_FullMethodName:            auth.Public(),
	identityv1.IdentityService_IssueServiceToken_FullMethodName: auth.Public(),
	identityv1.IdentityService_GetJWKS_FullMethodName:           auth.Public(),
	identityv1.IdentityService_RotateSigningKey_FullMethodName:  auth.AnyRole("admin"),

	identityv1.IdentityService_BeginTotpEnrollment_FullMethodName:   auth.Authenticated(),
	identityv1.IdentityService_ConfirmTotpEnrollment_FullMethodName: auth.Authenticated(),

	identityv1.IdentityService_CreateUser_FullMethodName:     auth.AnyRole("admin"),
	identityv1.IdentityService_GetMe_FullMethodName:          auth.Authenticated(),
	identityv1.IdentityService_UpdateMe_FullMethodName:       auth.Authenticated(),
	identityv1.IdentityService_ChangePassword_FullMethodName: auth.Authenticated(),
	identityv1.IdentityService_GetUser_FullMethodName:        auth.AnyRole("admin", "dispatcher"),
	identityv1.IdentityService_ListUsers_FullMethodName:      auth.AnyRole("admin", "dispatcher"),
	identityv1.IdentityService_SetUserRoles_FullMethodName:   auth.AnyRole("admin"),
	identityv1.IdentityService_DeactivateUser_FullMethodName: auth.AnyRole("admin"),

	identityv1.IdentityService_CreateServiceAccount_FullMethodName: auth.AnyRole("admin"),

	identityv1.IdentityService_GrantScopes_FullMethodName: auth.AnyRole("admin"),
	identityv1.IdentityService_RevokeGrant_FullMethodName: auth.AnyRole("admin"),
	identityv1.IdentityService_ListGrants_FullMethodName:  auth.Authenticated(),
}
