package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// clients drives a running mesh with the programs users use.
type clients struct {
	bin  string
	mesh *mesh
}

func (c clients) identityAddr() string { return fmt.Sprintf("127.0.0.1:%d", 7001+c.mesh.offset) }

// meshctl runs meshctl against this mesh and returns its output.
func (c clients) meshctl(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	global := []string{"--catalog", c.mesh.catalogAddr(), "--nats", c.mesh.natsURL(), "--identity", c.identityAddr()}
	return run(t, ctx, filepath.Join(c.bin, "meshctl"), append(global, args...)...)
}

// token is the signed-in admin's current access token.
func (c clients) token(t *testing.T, ctx context.Context) string {
	t.Helper()
	return strings.TrimSpace(c.meshctl(t, ctx, "token"))
}

// waitForProducts polls `meshctl catalog ls -o json` until every expected product is
// registered (domains register in the background at start-up) and returns their revisions.
func (c clients) waitForProducts(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	return c.waitFor(t, ctx, products)
}

// waitFor is waitForProducts for the products named.
func (c clients) waitFor(t *testing.T, ctx context.Context, products []string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var list []struct {
			Name     string `json:"name"`
			Revision string `json:"revision"`
		}
		out := c.meshctl(t, ctx, "catalog", "ls", "-o", "json")
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("meshctl catalog ls -o json: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, p := range list {
			got[p.Name] = p.Revision
		}
		missing := slices.DeleteFunc(slices.Clone(products), func(p string) bool { _, ok := got[p]; return ok })
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("products %v not registered within a minute; the catalog lists %v", missing, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// catalogThroughGRPCurl finds the catalog by reflection and calls it.
func (c clients) catalogThroughGRPCurl(t *testing.T, ctx context.Context) {
	t.Helper()
	grpcurl := filepath.Join(c.bin, "grpcurl")
	if svcs := run(t, ctx, grpcurl, "-plaintext", c.mesh.catalogAddr(), "list"); !strings.Contains(svcs, "mesh.platform.v1.CatalogService") {
		t.Errorf("grpcurl list:\n%s", svcs)
	}
	auth := "authorization: Bearer " + c.token(t, ctx)
	if out, err := output(ctx, grpcurl, "-plaintext", "-d", `{"name":"`+products[0]+`"}`, c.mesh.catalogAddr(),
		"mesh.platform.v1.CatalogService/GetProduct"); err == nil || !strings.Contains(out, "Unauthenticated") {
		t.Errorf("grpcurl GetProduct without a token: %v\n%s", err, out)
	}
	got := run(t, ctx, grpcurl, "-plaintext", "-H", auth, "-d", `{"name":"`+products[0]+`"}`, c.mesh.catalogAddr(), "mesh.platform.v1.CatalogService/GetProduct")
	var resp struct {
		Descriptor struct {
			Name string `json:"name"`
		} `json:"descriptor"`
		Observed struct {
			StreamExists bool   `json:"streamExists"`
			Messages     string `json:"messages"`
		} `json:"observed"`
	}
	if err := json.Unmarshal([]byte(got), &resp); err != nil {
		t.Fatalf("grpcurl GetProduct: %v\n%s", err, got)
	}
	if resp.Descriptor.Name != products[0] || !resp.Observed.StreamExists || resp.Observed.Messages == "" {
		t.Errorf("grpcurl GetProduct = %+v", resp)
	}
	if out, err := output(ctx, grpcurl, "-plaintext", "-H", auth, "-d", `{"name":"no.such-product.v1"}`, c.mesh.catalogAddr(),
		"mesh.platform.v1.CatalogService/GetProduct"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("grpcurl GetProduct of an unknown product: %v\n%s", err, out)
	}
}

// tail decodes a product's events with the schema from the catalog.
func (c clients) tail(t *testing.T, ctx context.Context) {
	t.Helper()
	global := []string{"--catalog", c.mesh.catalogAddr(), "--nats", c.mesh.natsURL(), "--identity", c.identityAddr()}
	line := firstLine(t, ctx, filepath.Join(c.bin, "meshctl"), append(global, "tail", products[0], "--key", "catalog", "-n", "1")...)
	var ev struct {
		Type string         `json:"type"`
		Key  string         `json:"key"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("meshctl tail line: %v\n%s", err, line)
	}
	if ev.Type != "mesh.platform.v1.ProductChanged" || ev.Data["name"] != products[0] || ev.Key != "catalog" {
		t.Errorf("meshctl tail event = %+v", ev)
	}
}

// streamMessages asks the NATS CLI how many messages a stream holds.
func (c clients) streamMessages(t *testing.T, ctx context.Context, stream string) uint64 {
	t.Helper()
	// natscli with the admin's mesh token: the callout admits it.
	out := run(t, ctx, filepath.Join(c.bin, "nats"), "--server", c.mesh.natsURL(), "--token", c.token(t, ctx), "stream", "info", stream, "--json")
	var info struct {
		Config struct {
			Subjects []string `json:"subjects"`
		} `json:"config"`
		State struct {
			Messages uint64 `json:"messages"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("nats stream info %s: %v\n%s", stream, err, out)
	}
	if len(info.Config.Subjects) == 0 {
		t.Errorf("nats stream info %s: %+v", stream, info)
	}
	return info.State.Messages
}

// identity signs in as the bootstrapped admin and calls identity with the token.
func (c clients) identity(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	for _, f := range []string{"admin.json", "secrets.json"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, st)
		}
	}
	var admin struct {
		Email      string `json:"email"`
		Password   string `json:"password"`
		TOTPSecret string `json:"totp_secret"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "admin.json")); err != nil || json.Unmarshal(b, &admin) != nil {
		t.Fatalf("admin.json: %v", err)
	}
	if admin.Email != "admin@meshwork.local" || admin.Password == "" || admin.TOTPSecret == "" {
		t.Errorf("admin.json holds email %q and empty password or TOTP secret: %v %v", admin.Email, admin.Password == "", admin.TOTPSecret == "")
	}
	if out := c.meshctl(t, ctx, "login", "--dev", "--mesh-dir", dir); !strings.Contains(out, "logged in") {
		t.Errorf("meshctl login --dev:\n%s", out)
	}
	token := strings.TrimSpace(c.meshctl(t, ctx, "token"))
	grpcurl := filepath.Join(c.bin, "grpcurl")
	me := run(t, ctx, grpcurl, "-plaintext", "-H", "authorization: Bearer "+token, c.identityAddr(), "mesh.identity.v1.IdentityService/GetMe")
	if !strings.Contains(me, "admin@meshwork.local") || !strings.Contains(me, "ROLE_ADMIN") {
		t.Errorf("grpcurl GetMe with the admin's token:\n%s", me)
	}
	if out, err := output(ctx, grpcurl, "-plaintext", c.identityAddr(), "mesh.identity.v1.IdentityService/GetMe"); err == nil || !strings.Contains(out, "Unauthenticated") {
		t.Errorf("grpcurl GetMe without a token: %v\n%s", err, out)
	}
	if users := c.meshctl(t, ctx, "users", "ls", "-o", "json"); !strings.Contains(users, "admin@meshwork.local") {
		t.Errorf("meshctl users ls:\n%s", users)
	}
	created := c.meshctl(t, ctx, "users", "create", "--email", "erin@example.com", "--name", "Erin Engineer", "--role", "engineer")
	if !strings.Contains(strings.ToLower(created), "password") {
		t.Errorf("meshctl users create printed no one-time password:\n%s", created)
	}
	c.deactivation(t, ctx, grpcurl)
}

// deactivation: a service account's token works at logistics until an admin deactivates the
// account with meshctl; from then on logistics refuses the still unexpired token
// (identity.users.v1 → revocation.Follow), not 15 minutes later.
func (c clients) deactivation(t *testing.T, ctx context.Context, grpcurl string) {
	t.Helper()
	var bot struct {
		Account      struct{ ID string } `json:"account"`
		ClientID     string              `json:"clientId"`
		ClientSecret string              `json:"clientSecret"`
	}
	if out := c.meshctl(t, ctx, "service-accounts", "create", "--name", "e2e-bot", "-o", "json"); json.Unmarshal([]byte(out), &bot) != nil || bot.ClientSecret == "" {
		t.Fatalf("meshctl service-accounts create -o json:\n%s", out)
	}
	var issued struct {
		AccessToken string `json:"accessToken"`
	}
	req := fmt.Sprintf(`{"clientId":%q,"clientSecret":%q}`, bot.ClientID, bot.ClientSecret)
	if out := run(t, ctx, grpcurl, "-plaintext", "-d", req, c.identityAddr(), "mesh.identity.v1.IdentityService/IssueServiceToken"); json.Unmarshal([]byte(out), &issued) != nil || issued.AccessToken == "" {
		t.Fatalf("IssueServiceToken:\n%s", out)
	}
	logistics := fmt.Sprintf("127.0.0.1:%d", 7004+c.mesh.offset)
	matrix := func() (string, error) {
		return output(ctx, grpcurl, "-plaintext", "-H", "authorization: Bearer "+issued.AccessToken, "-d",
			`{"origins":[{"lat":52.37,"lng":4.9}],"destinations":[{"lat":52.36,"lng":4.88}]}`, logistics, "mesh.logistics.v1.LogisticsService/GetTravelMatrix")
	}
	if out, err := matrix(); err != nil || !strings.Contains(out, "entries") {
		t.Fatalf("GetTravelMatrix with the bot's token: %v\n%s", err, out)
	}
	c.meshctl(t, ctx, "users", "deactivate", bot.Account.ID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := matrix()
		if err != nil && strings.Contains(out, "Unauthenticated") && strings.Contains(out, "deactivated") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logistics still answers the deactivated account's token after 30 s: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
