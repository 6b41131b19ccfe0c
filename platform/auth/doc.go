// Package auth checks who calls a Meshwork gRPC API and whether they may.
//
// Identity issues JWTs signed with Ed25519 (EdDSA; ES256 is also accepted) and publishes its
// public keys as a JWKS at /.well-known/jwks.json. A Verifier fetches that key set, caches it by
// key id, and verifies tokens: the signature with an allow-listed algorithm that matches the key's
// type, then exp, nbf, iss and aud, and the presence of sub and kid. Tokens carry the caller's
// roles and scopes as the JSON array claims "roles" and "scopes".
//
// Each service declares, beside its handlers, which calls may make each RPC:
//
//	var Rules = auth.Rules{
//		qualityv1.QualityService_GetMachine_FullMethodName:  auth.Authenticated(),
//		qualityv1.QualityService_Ingest_FullMethodName:      auth.AllScopes("quality:write"),
//		qualityv1.QualityService_DeleteMachine_FullMethodName: auth.AnyRole("admin"),
//	}
//
// A Guard enforces the rules in gRPC interceptors and fails closed: a method without a rule is
// denied. Only grpc.health.v1 and server reflection are always open. Handlers read the verified
// caller with FromContext. For service-to-service calls, BearerToken attaches a token to every
// outgoing RPC.
package auth
