package main

import (
	"net/http"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
)

func TestExportAndGetProduct(t *testing.T) {
	t.Parallel()
	c := start(t)
	c.register(t, summaries.Descriptor())

	resp, err := c.viewer.ExportProduct(c.ctx, &platformv1.ExportProductRequest{Name: "quality.summaries.v1", Format: platformv1.ExportFormat_EXPORT_FORMAT_ODCS_V3_YAML})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		APIVersion  string `yaml:"apiVersion"`
		Kind        string `yaml:"kind"`
		ID          string `yaml:"id"`
		Version     string `yaml:"version"`
		Domain      string `yaml:"domain"`
		DataProduct string `yaml:"dataProduct"`
		Description struct {
			Purpose string `yaml:"purpose"`
			Usage   string `yaml:"usage"`
		} `yaml:"description"`
		Schema []struct {
			PhysicalName string `yaml:"physicalName"`
			Properties   []struct {
				Name        string `yaml:"name"`
				LogicalType string `yaml:"logicalType"`
			} `yaml:"properties"`
		} `yaml:"schema"`
		Servers []struct {
			Type     string `yaml:"type"`
			Location string `yaml:"location"`
		} `yaml:"servers"`
		Team struct {
			Members []map[string]string `yaml:"members"`
		} `yaml:"team"`
		Roles         []map[string]any `yaml:"roles"`
		SLAProperties []map[string]any `yaml:"slaProperties"`
	}
	if err := yaml.Unmarshal([]byte(resp.GetContent()), &doc); err != nil {
		t.Fatalf("export is not YAML: %v\n%s", err, resp.GetContent())
	}
	if resp.GetContentType() != "application/yaml" || doc.APIVersion != "v3.1.0" || doc.Kind != "DataContract" ||
		doc.ID != "quality.summaries.v1" || doc.Version != "1.0.0" || doc.Domain != "quality" || doc.DataProduct != "quality.summaries.v1" ||
		doc.Description.Purpose != summaries.Description || doc.Description.Usage == "" {
		t.Errorf("fundamentals: %+v", doc)
	}
	if len(doc.Schema) != 1 || doc.Schema[0].PhysicalName != "mesh.platform.v1.ProductSummary" || len(doc.Schema[0].Properties) != 10 {
		t.Errorf("schema: %+v", doc.Schema)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].Type != "custom" || doc.Servers[0].Location != publicNATS {
		t.Errorf("servers: %+v", doc.Servers)
	}
	if len(doc.Team.Members) != 1 || doc.Team.Members[0]["username"] != "quality-team" || len(doc.Roles) == 0 || doc.Roles[0]["role"] != "quality:owner" || len(doc.SLAProperties) != 2 || doc.SLAProperties[0]["property"] != "freshness" {
		t.Errorf("team %v, SLA %v", doc.Team, doc.SLAProperties)
	}
	odps, err := c.viewer.ExportProduct(c.ctx, &platformv1.ExportProductRequest{Name: "quality", Format: platformv1.ExportFormat_EXPORT_FORMAT_ODPS_V1_YAML})
	if err != nil || !strings.Contains(odps.GetContent(), "apiVersion: v1.0.0\nkind: DataProduct\nid: quality\n") ||
		!strings.Contains(odps.GetContent(), "contractId: quality.summaries.v1") {
		t.Errorf("ODPS export of the domain: %v\n%s", err, odps.GetContent())
	}
	if _, err := c.viewer.ExportProduct(c.ctx, &platformv1.ExportProductRequest{Name: "nobody", Format: platformv1.ExportFormat_EXPORT_FORMAT_ODPS_V1_YAML}); status.Code(err) != codes.NotFound {
		t.Errorf("ODPS export of an unknown domain: %v, want NotFound", err)
	}
	if _, err := c.viewer.ExportProduct(c.ctx, &platformv1.ExportProductRequest{Name: "quality.summaries.v1", Format: 7}); badRequest(err)["format"] == "" {
		t.Errorf("unknown format: %v, want InvalidArgument naming format", err)
	}

	got, err := c.viewer.GetProduct(c.ctx, &platformv1.GetProductRequest{Name: "quality.summaries.v1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRevision() != 1 || got.GetRegisteredAt() == nil || !got.GetUpdatedAt().AsTime().Equal(got.GetRegisteredAt().AsTime()) ||
		got.GetDescriptor_().GetSchema().GetMessageName() != "mesh.platform.v1.ProductSummary" {
		t.Errorf("GetProduct: revision %d registered %v updated %v", got.GetRevision(), got.GetRegisteredAt(), got.GetUpdatedAt())
	}
	files := got.GetProtoFiles()
	if len(files) == 0 || files[0].GetPath() != "mesh/platform/v1/catalog.proto" ||
		!strings.Contains(files[0].GetSource(), "message ProductSummary {\n  string name = 1;") ||
		!strings.Contains(files[0].GetSource(), "service CatalogService {") {
		t.Errorf("proto files: %v", files)
	}
}

func TestWebUI(t *testing.T) {
	t.Parallel()
	c := start(t)
	c.register(t, summaries.Descriptor())
	c.register(t, plans.Descriptor())
	if _, err := dataproduct.Provision(c.ctx, c.js, summaries); err != nil {
		t.Fatal(err)
	}
	status, body := c.get(t, "/")
	for _, want := range []string{`<a href="/products/quality.summaries.v1">quality.summaries.v1</a>`, "quality-team", "internal", `class="state EMPTY"`, "catalog.product-changes.v1"} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET / = %d, lacks %q:\n%s", status, want, body)
		}
	}
	status, body = c.get(t, "/?q=maintenance")
	if status != http.StatusOK || !strings.Contains(body, "scheduling.plans.v1") || strings.Contains(body, "/products/quality.summaries.v1") {
		t.Errorf("search page = %d:\n%s", status, body)
	}
	status, body = c.get(t, "/products/scheduling.plans.v1")
	for _, want := range []string{
		"<h1>scheduling.plans.v1</h1>",
		`<a href="/products/quality.summaries.v1">quality.summaries.v1</a>`, // declared upstreams
		`<a href="/products/files.reports.v1">files.reports.v1</a>`,
		"message ProductChanged {",
		"The stream SCHEDULING_PLANS_V1 does not exist", // never provisioned
	} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("product page = %d, lacks %q:\n%s", status, want, body)
		}
	}
	if status, _ := c.get(t, "/products/nobody.nothing.v1"); status != http.StatusNotFound {
		t.Errorf("unknown product page = %d, want 404", status)
	}
	if status, body := c.get(t, "/readyz"); status != http.StatusOK {
		t.Errorf("/readyz = %d %s", status, body)
	}
}
