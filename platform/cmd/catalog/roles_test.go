package main

import (
	"strings"
	"testing"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// TestExportRolesFromGrants: an approved access request shows up in the ODCS export as a role.
func TestExportRolesFromGrants(t *testing.T) {
	t.Parallel()
	c := start(t)
	c.register(t, summaries.Descriptor())
	ana := c.accessClient(t, c.iss.Token(t, "u-ana", []string{"analyst"}, nil))
	admin := c.accessClient(t, c.iss.Token(t, "u-admin", []string{"admin"}, nil))
	req, err := ana.RequestAccess(c.ctx, &platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "weekly report"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.DecideAccessRequest(c.ctx, &platformv1.DecideAccessRequestRequest{Id: req.GetRequest().GetId(), Approve: true}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.viewer.ExportProduct(c.ctx, &platformv1.ExportProductRequest{Name: "quality.summaries.v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"role: quality:owner", "role: u-ana:reader", "firstLevelApprovers: u-admin", "weekly report"} {
		if !strings.Contains(resp.GetContent(), want) {
			t.Errorf("export lacks %q:\n%s", want, resp.GetContent())
		}
	}
}
