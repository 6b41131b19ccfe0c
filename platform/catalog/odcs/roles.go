package odcs

import (
	"strings"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct/rules"
)

// roles are the owner's role and one read role per active grant of d, in the grants' order.
func roles(d *platformv1.DataProductDescriptor, opts Options) []Role {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	out := []Role{{
		Role: d.GetDomain() + ":owner", Access: "read-write",
		Description: "The owning domain publishes the product and decides access requests.",
	}}
	for _, g := range opts.Grants {
		if g.Product != d.GetName() || !g.Active(now) {
			continue
		}
		r := Role{
			Role: g.Namespace + ":reader", Access: "read", Description: g.Purpose,
			FirstLevelApprovers: g.DecidedBy,
			CustomProperties: []CustomProperty{
				{"pii", g.PII},
				{"expiresAt", g.ExpiresAt.UTC().Format(time.RFC3339)},
			},
		}
		if !g.PII {
			r.Description = strings.TrimSpace(r.Description + " (redacted view: PII fields are keyed hashes)")
		}
		out = append(out, r)
	}
	return out
}

// quality renders the product's rules as ODCS custom quality entries.
func quality(rs []*platformv1.QualityRule) []Quality {
	var out []Quality
	for _, r := range rs {
		policy := rules.Policy(r.GetPolicy())
		severity := "error"
		if policy == rules.Count {
			severity = "warning"
		}
		out = append(out, Quality{
			ID: r.GetId(), Name: r.GetId(), Description: r.GetDescription(), Type: "custom",
			Dimension: r.GetDimension(), Severity: severity, Engine: "cel", Implementation: r.GetExpression(),
			CustomProperties: []CustomProperty{{"policy", policy.String()}},
		})
	}
	return out
}
