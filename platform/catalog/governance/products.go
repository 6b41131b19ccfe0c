// Package governance is the catalog's governance service: access requests and grants to data
// products (package access holds the rules), their events, the grants the NATS callout turns
// into permissions, cutting a revoked principal's live connections, and the immutable audit
// trail governance.audit.v1. See docs/governance.md.
package governance

import (
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
)

// AccessChanges is governance.access-changes.v1: every state change of an access request,
// keyed by the product's domain.
var AccessChanges = dataproduct.Product{
	Domain: "governance", Name: "access-changes", Major: 1,
	Owner: "platform-team", Contact: "#meshwork-platform",
	Description: "Every access request to a data product and every change of its state: requested, approved, " +
		"denied, revoked, expired. Keyed by the domain owning the product.",
	Tags:            []string{"governance", "access"},
	Message:         &platformv1.AccessChanged{},
	Classification:  dataproduct.ClassInternal,
	Retention:       365 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       30 * 24 * time.Hour,
	KeyDescription:  "domain owning the product",
	ServedBy:        []string{"mesh.platform.v1.AccessService"},
}

// Audit is governance.audit.v1: the audit trail of grants, denials, revocations, stream
// management and refused connections. Its stream denies deletes and purges, and no principal
// holds the permission to change it (package natsauth).
var Audit = dataproduct.Product{
	Domain: "governance", Name: "audit", Major: 1,
	Owner: "platform-team", Contact: "#meshwork-platform",
	Description: "The mesh's immutable audit trail: access decisions, revocations, stream management and " +
		"refused NATS connections. Nobody, admin included, can delete, purge or rewrite it.",
	Tags:            []string{"governance", "audit"},
	Message:         &platformv1.AuditEntry{},
	Classification:  dataproduct.ClassConfidential,
	Retention:       5 * 365 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute,
	Freshness:       30 * 24 * time.Hour,
	KeyDescription:  "first word of the action: access, auth or stream",
	ServedBy:        []string{"mesh.platform.v1.AccessService"},
}
