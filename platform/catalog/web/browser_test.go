package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/access"
	"meshwork.dev/platform/catalog/web"
	"meshwork.dev/platform/testinfra"
)

// stepTimeout bounds one browser step: generous, as two cores are shared.
const stepTimeout = 90 * time.Second

// browser is one headless Debian chromium for the test binary, one tab reused by subtests.
type browser struct {
	ctx   context.Context
	shots string // where failure screenshots go, made at the first failure
	docs  string // CONSOLE_SCREENSHOTS: where the docs' screenshots go, "" for none
}

// startBrowser starts chromium with a fresh profile; it fails, naming the package, when
// chromium is not installed.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: install the Debian package `chromium` (apt-get install -y chromium; .ci/run does it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must not carry a timeout (that would stop it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{ctx: ctx, docs: os.Getenv("CONSOLE_SCREENSHOTS")}
}

// do runs actions within stepTimeout; on failure it saves a screenshot and fails t.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.failShot(t)
		t.Fatalf("browser: %v", err)
	}
}

// value runs one action within stepTimeout and returns its value, failing t as do does.
func value[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.failShot(t)
		t.Fatalf("browser: %v", err)
	}
	return v
}

// evalInto evaluates a script in the page into out.
func evalInto[T any](t *testing.T, b *browser, expr string, out *T) {
	t.Helper()
	*out = value(t, b, chromedp.Evaluate[T](expr))
}

// failShot saves the page as a test artefact.
func (b *browser) failShot(t *testing.T) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	if b.shots == "" {
		// Under the temporary directory, but not t.TempDir: the artefacts outlive the test.
		if b.shots, err = os.MkdirTemp("", "console-screenshots-"); err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
	}
	file := filepath.Join(b.shots, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
	if err := os.WriteFile(file, png, 0o644); err == nil {
		t.Logf("screenshot of the failure: %s", file)
	}
}

// docShot writes the page's screenshot for docs/console.md when CONSOLE_SCREENSHOTS is set.
func (b *browser) docShot(t *testing.T, name string) {
	t.Helper()
	if b.docs == "" {
		return
	}
	png := value(t, b, chromedp.CaptureScreenshot())
	if err := os.MkdirAll(b.docs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.docs, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// axeRun runs the injected axe-core on the page for WCAG 2.1 A and AA and returns one line per
// violated rule: its id, help text and the offending elements.
const axeRun = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]})
  .then(r => r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", ")))`

// axe checks the page with the vendored axe-core (testdata/axe, MPL-2.0) and fails t with
// every violation.
func (b *browser) axe(t *testing.T, what string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	value(t, b, chromedp.Evaluate[bool](string(src)+";true"))
	violations := value(t, b, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
	if len(violations) > 0 {
		b.failShot(t)
		t.Errorf("axe-core on %s: %d violation(s):\n  %s", what, len(violations), strings.Join(violations, "\n  "))
	}
}

// check evaluates a script returning a list of problems and fails t with them; pages are
// checked by axe-core too.

func (b *browser) check(t *testing.T, what, script string) {
	t.Helper()
	b.axe(t, what)
	problems := value(t, b, chromedp.Evaluate[[]string](script))
	if len(problems) > 0 {
		b.failShot(t)
		t.Errorf("%s: %d problem(s):\n  %s", what, len(problems), strings.Join(problems, "\n  "))
	}
}

// waitFor polls a script until it is true, across page loads (a script that runs while the
// page navigates fails and is tried again), failing t with what after stepTimeout.
func (b *browser) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	b.failShot(t)
	t.Fatalf("waiting for %s: not true after %s (last error: %v)", what, stepTimeout, last)
}

func TestConsoleInBrowser(t *testing.T) {
	b := startBrowser(t)
	n := testinfra.StartNATS(t)
	id, admin := startIdentity(t, n)
	analyst := id.enrolledUser(t, admin, "analyst@example.com", identityv1.Role_ROLE_ANALYST)
	ident := web.IdentityService(id.conn)
	// The access pages run on the catalog's own access API (the governor, its outbox and
	// audit stream), identity's tokens verified against its key set.
	e := newEnvOn(t, n, web.Config{Identity: ident, Services: []web.Endpoint{{Name: "identity", URL: id.httpURL}}},
		governed(t, id.httpURL+"/.well-known/jwks.json"))
	readings, health, jobs := products()
	e.register(t, readings)
	e.register(t, health)
	e.register(t, jobs)
	e.consume(t, readings, "care")
	e.consume(t, readings, "billing")
	for i := range 3 {
		e.publish(t, readings, fmt.Sprintf("m-%d", i), payload(t, readings, map[string]any{"machine_id": fmt.Sprintf("m-%d", i), "value": 20.5 + float64(i), "unit": "C", "operator_email": "op@example.com"}))
	}
	base := e.server.URL

	signIn := func(t *testing.T, a *account) {
		b.do(t, chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), a.Email), chromedp.SendKeys(chromedp.ID("password"), a.Password),
			chromedp.SendKeys(chromedp.ID("code"), a.code(t)), chromedp.Submit(chromedp.ID("code")),
			chromedp.WaitVisible(chromedp.ID("signed-in")))
		who := value(t, b, chromedp.Text(chromedp.ID("signed-in")))
		if !strings.Contains(who, a.Email) {
			t.Fatalf("signed in as %q, want %s", who, a.Email)
		}
	}
	signOut := func(t *testing.T) {
		b.do(t, chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/signin"]`)))
	}

	t.Run("accessibility checks find problems", func(t *testing.T) {
		bad := `<!doctype html><title>bad</title><body><input id="x"><h1>a</h1><h3>b</h3><p style="color:#aaa">faint</p><button></button></body>`
		b.do(t, chromedp.Navigate("data:text/html,"+url.PathEscape(bad)), chromedp.WaitVisible(chromedp.ID("x")))
		problems := value(t, b, chromedp.Evaluate[[]string](a11yScript))
		value(t, b, chromedp.Evaluate[bool](mustRead(t, filepath.Join("testdata", "axe", "axe.min.js"))+";true"))
		violations := value(t, b, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
		for _, want := range []string{"html-has-lang", "label", "color-contrast", "button-name"} {
			if !slices.ContainsFunc(violations, func(v string) bool { return strings.HasPrefix(v, want+" ") }) {
				t.Errorf("axe-core misses %s on a bad page; it found %q", want, violations)
			}
		}
		for _, want := range []string{"html has no lang", "exactly one main", "heading level skipped", "unlabelled control", "contrast", "nameless"} {
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("the checks miss %q on a bad page; they found %q", want, problems)
			}
		}
	})

	t.Run("sign in", func(t *testing.T) {
		signIn(t, analyst)
		res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
		if err != nil {
			t.Fatal(err)
		}
		cookies := res.Cookies
		i := slices.IndexFunc(cookies, func(c *network.Cookie) bool { return c.Name == "mesh_access" })
		if i < 0 {
			t.Fatalf("no mesh_access cookie among %d", len(cookies))
		}
		if c := cookies[i]; !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
			t.Errorf("access cookie HttpOnly=%v SameSite=%q, want HttpOnly and Strict", c.HTTPOnly, c.SameSite)
		}
		var visible bool
		evalInto(t, b, `document.cookie.includes("mesh_access")`, &visible)
		if visible {
			t.Error("the access token is readable by scripts")
		}
	})

	t.Run("search with facets", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("q")),
			chromedp.SendKeys(chromedp.ID("q"), "sensors"), chromedp.Submit(chromedp.ID("q")),
			chromedp.WaitVisible(chromedp.ID("results-heading")))
		b.waitFor(t, "results", `location.search.includes("q=sensors")`)
		var rows []string
		evalInto(t, b, `[...document.querySelectorAll(".results tbody td:first-child a")].map(a => a.textContent)`, &rows)
		if !slices.Equal(sorted(rows), []string{"care.health.v1", "lab.readings.v1"}) {
			t.Fatalf("search sensors shows %v", rows)
		}
		b.do(t, chromedp.Click(chromedp.CSS(`input[name="domain"][value="lab"]`)), chromedp.Click(chromedp.CSS(`aside button[type=submit]`)))
		b.waitFor(t, "facet", `location.search.includes("domain=lab")`)
		evalInto(t, b, `[...document.querySelectorAll(".results tbody td:first-child a")].map(a => a.textContent)`, &rows)
		if !slices.Equal(rows, []string{"lab.readings.v1"}) {
			t.Fatalf("facet domain=lab shows %v", rows)
		}
		b.check(t, "accessibility of the search page", a11yScript)
		b.checkKeyboard(t)
		b.docShot(t, "search")
	})

	t.Run("product page", func(t *testing.T) {
		b.do(t, chromedp.Click(chromedp.CSS(`.results a[href="/products/lab.readings.v1"]`)), chromedp.WaitVisible(chromedp.ID("schema")))
		var pii []string
		evalInto(t, b, `[...document.querySelectorAll("tr.field")].filter(r => r.querySelector(".pii")).map(r => r.dataset.field)`, &pii)
		if !slices.Equal(pii, []string{"operator_email"}) {
			t.Errorf("PII marks on %v, want operator_email", pii)
		}
		var bars int
		evalInto(t, b, `document.querySelectorAll("svg.chart rect.bar").length`, &bars)
		if bars != 36 {
			t.Errorf("chart has %d bars, want 36", bars)
		}
		var consumers []string
		evalInto(t, b, `[...document.querySelectorAll("#sla ~ table tbody td:first-child, section[aria-labelledby=sla] table tbody td:first-child")].map(td => td.textContent)`, &consumers)
		if !slices.Contains(consumers, "care--lab_readings_v1") || !slices.Contains(consumers, "billing--lab_readings_v1") {
			t.Errorf("consumers shown: %v", consumers)
		}
		b.check(t, "accessibility of the product page", a11yScript)
		b.docShot(t, "product")
	})

	t.Run("lineage graph", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"/lineage/lab.readings.v1?depth=2"), chromedp.WaitVisible(chromedp.CSS("svg.lineage")))
		var nodes []string
		evalInto(t, b, `[...document.querySelectorAll("svg.lineage [data-node]")].map(n => n.dataset.node)`, &nodes)
		want := []string{"domain:billing", "product:care.health.v1", "product:lab.readings.v1", "product:plan.jobs.v1"}
		if !slices.Equal(sorted(nodes), want) {
			t.Fatalf("lineage nodes %v, want %v", nodes, want)
		}
		var edges []string
		evalInto(t, b, `[...document.querySelectorAll("svg.lineage path.edge")].map(p => p.dataset.from + ">" + p.dataset.to + "=" + p.dataset.status)`, &edges)
		wantEdges := []string{
			"product:care.health.v1>product:plan.jobs.v1=DECLARED_ONLY",
			"product:lab.readings.v1>domain:billing=OBSERVED_ONLY",
			"product:lab.readings.v1>product:care.health.v1=CONFIRMED",
		}
		if !slices.Equal(sorted(edges), wantEdges) {
			t.Fatalf("lineage edges %v, want %v", edges, wantEdges)
		}
		var drift int
		evalInto(t, b, `document.querySelectorAll("ul.drift li").length`, &drift)
		if drift != 2 {
			t.Errorf("%d drifts flagged, want 2", drift)
		}
		b.check(t, "accessibility of the lineage page", a11yScript)
		b.docShot(t, "lineage")
		b.do(t, chromedp.Click(chromedp.CSS(`svg.lineage a[href="/products/care.health.v1"]`)), chromedp.WaitVisible(chromedp.ID("schema")))
		h1 := value(t, b, chromedp.Text(chromedp.CSS("h1")))
		if h1 != "care.health.v1" {
			t.Errorf("clicking the node opened %q", h1)
		}
	})

	t.Run("no live events without a grant", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"/products/lab.readings.v1/events"), chromedp.WaitVisible(chromedp.CSS("main")))
		text := value(t, b, chromedp.Text(chromedp.CSS("main")))
		if !strings.Contains(text, "no grant on lab.readings.v1") {
			t.Fatalf("the events page without a grant shows %q", text)
		}
		// The lab's owner (here the admin) grants the analyst the product without its PII.
		r, err := e.gov.Request(context.Background(), access.Caller{Subject: analyst.ID, Roles: []string{"analyst"}},
			access.Ask{Product: "lab.readings.v1", Purpose: "live view"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.gov.Decide(context.Background(), access.Caller{Subject: "the-admin", Roles: []string{"admin"}}, r.ID, true, "ok"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("live events", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"/products/lab.readings.v1/events"), chromedp.WaitVisible(chromedp.ID("tail-state")))
		b.waitFor(t, "connected", `document.getElementById("tail-state").textContent.startsWith("Live")`)
		e.publish(t, readings, "m-42", payload(t, readings, map[string]any{"machine_id": "m-42", "value": 99.5, "unit": "C", "operator_email": "secret@example.com"}))
		b.waitFor(t, "event", `[...document.querySelectorAll("#events li")].some(li => li.textContent.includes("subject m-42"))`)
		var text string
		evalInto(t, b, `document.getElementById("events").textContent`, &text)
		if !strings.Contains(text, `"value": 99.5`) || !strings.Contains(text, "Redacted (no PII grant): operator_email") || strings.Contains(text, "secret@example.com") {
			t.Errorf("event shown as %q: want the decoded value and the email redacted", text)
		}
		b.check(t, "accessibility of the live events page", a11yScript)
		b.docShot(t, "events")
		// Paused, an event published meanwhile arrives on resume.
		b.do(t, chromedp.Click(chromedp.ID("pause")))
		b.waitFor(t, "paused", `document.getElementById("tail-state").textContent.startsWith("Paused")`)
		e.publish(t, readings, "m-43", payload(t, readings, map[string]any{"machine_id": "m-43", "value": 1.0, "unit": "C"}))
		b.do(t, chromedp.Click(chromedp.ID("pause")))
		b.waitFor(t, "resumed", `[...document.querySelectorAll("#events li")].some(li => li.textContent.includes("subject m-43"))`)
	})

	t.Run("replay from a time, filtered by subject", func(t *testing.T) {
		since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
		b.do(t, chromedp.Navigate(base+"/products/lab.readings.v1/events?subject=m-1&since="+since), chromedp.WaitVisible(chromedp.ID("tail-state")))
		b.waitFor(t, "replayed", `document.querySelectorAll("#events li").length >= 1`)
		var subjects []string
		evalInto(t, b, `[...document.querySelectorAll("#events li div:first-child")].map(d => d.textContent)`, &subjects)
		for _, s := range subjects {
			if !strings.Contains(s, "subject m-1 ") {
				t.Errorf("subject filter let through %q", s)
			}
		}
	})

	t.Run("request access", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"/products/lab.readings.v1"), chromedp.WaitVisible(chromedp.ID("purpose")),
			chromedp.SendKeys(chromedp.ID("purpose"), "machine dashboards"), chromedp.Click(chromedp.CSS(`input[name="pii"]`)),
			chromedp.Submit(chromedp.ID("purpose")), chromedp.WaitVisible(chromedp.CSS(".notice")))
		signOut(t)
	})

	t.Run("approve as owner", func(t *testing.T) {
		signIn(t, admin)
		b.do(t, chromedp.Navigate(base+"/access"), chromedp.WaitVisible(chromedp.ID("queue-table")))
		var queue []string
		evalInto(t, b, `[...document.querySelectorAll("tr.request")].map(r => r.textContent)`, &queue)
		if len(queue) != 1 || !strings.Contains(queue[0], analyst.ID) || !strings.Contains(queue[0], "machine dashboards") {
			t.Fatalf("owner's queue: %q", queue)
		}
		b.check(t, "accessibility of the access page", a11yScript)
		b.docShot(t, "access")
		b.do(t, chromedp.SendKeys(chromedp.CSS(`tr.request input[name="reason"]`), "dashboards are fine"),
			chromedp.Click(chromedp.CSS(`tr.request form[action$="/approve"] button`)))
		b.waitFor(t, "queue empty", `document.querySelectorAll("tr.request").length === 0`)
	})

	t.Run("see the grant and the audit trail", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"/products/lab.readings.v1"), chromedp.WaitVisible(chromedp.ID("grants")))
		var grants []string
		evalInto(t, b, `[...document.querySelectorAll("#grants tr.grant")].map(r => r.textContent)`, &grants)
		// The grant without PII from before and the one just approved with it.
		if len(grants) != 2 || !slices.ContainsFunc(grants, func(g string) bool { return strings.Contains(g, analyst.ID) && strings.Contains(g, "yes") }) {
			t.Fatalf("grants: %q", grants)
		}
		b.do(t, chromedp.Navigate(base+"/audit?product=lab.readings.v1"), chromedp.WaitVisible(chromedp.ID("audit")))
		var actions []string
		evalInto(t, b, `[...document.querySelectorAll("#audit tbody tr td:nth-child(3)")].map(td => td.textContent)`, &actions)
		if !slices.Equal(actions, []string{"access.approved", "access.requested", "access.approved", "access.requested"}) {
			t.Errorf("audit actions %v", actions)
		}
		b.check(t, "accessibility of the audit page", a11yScript)
	})

	t.Run("health", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"/health"), chromedp.WaitVisible(chromedp.CSS(`tr.service[data-service="identity"]`)))
		status := value(t, b, chromedp.Text(chromedp.CSS(`tr.service[data-service="identity"] td:nth-child(2)`)))
		if status != "ready" {
			t.Errorf("identity readiness %q", status)
		}
		metrics := value(t, b, chromedp.Text(chromedp.CSS(`tr.service[data-service="identity"] td:nth-child(4)`)))
		if !strings.Contains(metrics, "outbox_backlog_pending") {
			t.Errorf("identity's key metrics: %q", metrics)
		}
		b.check(t, "accessibility of the health page", a11yScript)
		b.docShot(t, "health")
	})

	t.Run("sign out", func(t *testing.T) {
		signOut(t)
		b.do(t, chromedp.Navigate(base+"/access"), chromedp.WaitVisible(chromedp.ID("email")))
		var path string
		evalInto(t, b, `location.pathname`, &path)
		if path != "/signin" {
			t.Errorf("signed out, /access leads to %s, want /signin", path)
		}
		b.check(t, "accessibility of the sign-in page", a11yScript)
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// checkKeyboard tabs from the top of the page: the skip link comes first and the search field
// is reachable by keyboard alone, with a visible focus outline.
func (b *browser) checkKeyboard(t *testing.T) {
	t.Helper()
	value(t, b, chromedp.Evaluate[bool](`document.activeElement && document.activeElement.blur(); window.scrollTo(0,0); true`))
	b.do(t, chromedp.KeyEvent("\t"))
	first := value(t, b, chromedp.Evaluate[string](`document.activeElement.textContent`))
	if first != "Skip to content" {
		t.Errorf("first Tab focuses %q, want the skip link", first)
	}
	var reached bool
	for range 15 {
		b.do(t, chromedp.KeyEvent("\t"))
		id := value(t, b, chromedp.Evaluate[string](`document.activeElement.id`))
		outline := value(t, b, chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`))
		if outline == "none" {
			var tag string
			evalInto(t, b, `document.activeElement.outerHTML.slice(0, 80)`, &tag)
			t.Errorf("focused %s shows no focus outline", tag)
		}
		if id == "q" {
			reached = true
			break
		}
	}
	if !reached {
		t.Error("the search field is not reachable with Tab")
	}
}
