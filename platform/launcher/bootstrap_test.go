package launcher

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fakeIdentity is identity. Without arguments it is fakeService; with bootstrap-admin or
// create-service-account it plays those subcommands, keeping its "database" in $HOME and
// appending each call, with its environment, to $HOME/calls.log. A file $HOME/fail makes the
// subcommands fail.
func fakeIdentity() int {
	if len(os.Args) < 2 {
		return fakeService()
	}
	home := os.Getenv("HOME")
	env := os.Environ()
	slices.Sort(env)
	appendLine(home, "calls.log", strings.Join(os.Args[1:], " ")+" | "+strings.Join(env, " "))
	if os.Getenv("KEY_ENCRYPTION_KEY") == "" || os.Getenv("DATABASE_URL") == "" {
		fmt.Fprintln(os.Stderr, "config: KEY_ENCRYPTION_KEY and DATABASE_URL are required")
		return 2
	}
	if _, err := os.Stat(filepath.Join(home, "fail")); err == nil {
		fmt.Fprint(os.Stderr, "connecting\nidentity: database unreachable\n")
		return 1
	}
	var out any
	switch args := os.Args[1:]; {
	case len(args) == 4 && args[0] == "bootstrap-admin" && args[1] == "--email" && args[3] == "--json":
		if _, err := os.Stat(filepath.Join(home, "admin")); err == nil {
			fmt.Fprintln(os.Stderr, "identity bootstrap-admin: an admin already exists")
			return 3
		}
		appendLine(home, "admin", args[2])
		out = map[string]string{"email": args[2], "password": "pw-1", "totp_secret": "JBSWY3DPEHPK3PXP",
			"otpauth_uri": "otpauth://totp/Meshwork:" + args[2] + "?secret=JBSWY3DPEHPK3PXP&issuer=Meshwork"}
	case len(args) == 4 && args[0] == "create-service-account" && args[1] == "--name" && args[3] == "--json":
		n := appendLine(home, "accounts", args[2])
		out = map[string]string{"name": args[2], "client_id": "sa-" + args[2], "client_secret": fmt.Sprintf("secret-%d", n)}
	case len(args) == 8 && args[0] == "create-user" && args[1] == "--email" && args[7] == "--json":
		if n := appendLine(home, "users", args[2]); strings.Count(readFile(home, "users"), args[2]+"\n") > 1 {
			fmt.Fprintln(os.Stderr, "identity create-user: a user with this email exists")
			return 4
		} else {
			out = map[string]any{"id": fmt.Sprintf("user-%d", n), "email": args[2], "roles": []string{args[6]}, "one_time_password": "otp"}
		}
	default:
		fmt.Fprintf(os.Stderr, "identity: unknown command line %q\n", args)
		return 2
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}

// readFile returns the file name in dir, "" when it does not exist.
func readFile(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return string(b)
}

// appendLine appends line to the file name in dir and returns how many lines it now has.
func appendLine(dir, name, line string) int {
	path := filepath.Join(dir, name)
	old, _ := os.ReadFile(path)
	_ = os.WriteFile(path, append(old, line+"\n"...), 0o644)
	return strings.Count(string(old), "\n") + 1
}

// fakeTool returns the fake identity's subcommands with a fresh state directory.
func fakeTool(t *testing.T) (identityTool, string) {
	t.Helper()
	bin := linkFakes(t, Identity)
	state := t.TempDir()
	return identityTool{path: filepath.Join(bin, Identity),
		env: []string{"HOME=" + state, "KEY_ENCRYPTION_KEY=a2V5", "DATABASE_URL=postgres://db/identity"}}, state
}

// readMode reads a private file, failing t unless its mode is 0600.
func readMode(t *testing.T, path string, v any) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, v) != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
}

// calls returns the fake identity's subcommand calls.
func calls(t *testing.T, state string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "calls.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		out = append(out, l[:strings.Index(l, " | ")])
	}
	return out
}

func TestSetUpIdentity(t *testing.T) {
	t.Parallel()
	tool, state := fakeTool(t)
	dir := t.TempDir()
	var said []string
	say := func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }
	clients := []Service{{Name: "quality", Account: true}, {Name: "quality-sim", Account: true}, {Name: "other"}}

	env, err := setUpIdentity(t.Context(), tool, dir, filepath.Join(dir, "postgres"), clients, say)
	if err != nil {
		t.Fatal(err)
	}
	var admin AdminCredentials
	readMode(t, filepath.Join(dir, AdminFile), &admin)
	want := AdminCredentials{Email: AdminEmail, Password: "pw-1", TOTPSecret: "JBSWY3DPEHPK3PXP",
		OTPAuthURI: "otpauth://totp/Meshwork:admin@meshwork.local?secret=JBSWY3DPEHPK3PXP&issuer=Meshwork"}
	if admin != want {
		t.Errorf("admin.json = %+v, want %+v", admin, want)
	}
	var accounts map[string]serviceAccount
	readMode(t, filepath.Join(dir, AccountsFile), &accounts)
	if len(accounts) != 2 || accounts["quality"] != (serviceAccount{"sa-quality", "secret-1"}) ||
		accounts["quality-sim"] != (serviceAccount{"sa-quality-sim", "secret-2"}) {
		t.Errorf("service-accounts.json = %+v", accounts)
	}
	wantEnv := map[string][]string{
		"quality":     {"SERVICE_CLIENT_ID=sa-quality", "SERVICE_CLIENT_SECRET=secret-1"},
		"quality-sim": {"SERVICE_CLIENT_ID=sa-quality-sim", "SERVICE_CLIENT_SECRET=secret-2"},
	}
	if fmt.Sprint(env) != fmt.Sprint(wantEnv) {
		t.Errorf("env = %v, want %v", env, wantEnv)
	}
	wantSaid := []string{
		"admin admin@meshwork.local created: dev credentials in " + filepath.Join(dir, AdminFile) + " (meshctl login --dev)",
		"service accounts created for quality, quality-sim (credentials in " + filepath.Join(dir, AccountsFile) + ")",
	}
	if !slices.Equal(said, wantSaid) {
		t.Errorf("said %q, want %q", said, wantSaid)
	}
	wantCalls := []string{"bootstrap-admin --email admin@meshwork.local --json",
		"create-service-account --name quality --json", "create-service-account --name quality-sim --json"}
	if got := calls(t, state); !slices.Equal(got, wantCalls) {
		t.Errorf("identity ran %q, want %q", got, wantCalls)
	}

	// A second start reuses everything; a new client gets its own account.
	said = nil
	env, err = setUpIdentity(t.Context(), tool, dir, "", append(clients, Service{Name: "files", Account: true}), say)
	if err != nil {
		t.Fatal(err)
	}
	if got := calls(t, state); !slices.Equal(got, append(wantCalls, "create-service-account --name files --json")) {
		t.Errorf("second start ran %q, want only files' account created", got[len(wantCalls):])
	}
	if len(env) != 3 || env["quality"][1] != "SERVICE_CLIENT_SECRET=secret-1" || env["files"][1] != "SERVICE_CLIENT_SECRET=secret-3" {
		t.Errorf("second start env = %v", env)
	}
	if len(said) != 1 || !strings.HasPrefix(said[0], "service accounts created for files ") {
		t.Errorf("second start said %q", said)
	}

	// admin.json lost while identity keeps its admin: one clear line, and on we go.
	if err := os.Remove(filepath.Join(dir, AdminFile)); err != nil {
		t.Fatal(err)
	}
	said = nil
	if _, err := setUpIdentity(t.Context(), tool, dir, filepath.Join(dir, "postgres"), clients, say); err != nil {
		t.Fatalf("bootstrap with an existing admin = %v, want nil", err)
	}
	wantLost := "identity already has an admin, but " + filepath.Join(dir, AdminFile) +
		" is missing: its credentials are lost (to start afresh, stop the mesh and remove " + dir + ")"
	if !slices.Equal(said, []string{wantLost}) {
		t.Errorf("said %q, want %q", said, wantLost)
	}
	if _, err := os.Stat(filepath.Join(dir, AdminFile)); !os.IsNotExist(err) {
		t.Errorf("admin.json after the lost-credentials case: %v, want none", err)
	}
	// Postgres data kept outside dir (the fallback for root) must be removed too.
	said = nil
	if _, err := setUpIdentity(t.Context(), tool, dir, "/var/tmp/meshwork-1/postgres", clients, say); err != nil {
		t.Fatal(err)
	}
	if len(said) != 1 || !strings.HasSuffix(said[0], "remove "+dir+" and /var/tmp/meshwork-1/postgres)") {
		t.Errorf("said %q, want the advice to remove the Postgres data too", said)
	}
}

func TestSetUpIdentityFails(t *testing.T) {
	t.Parallel()
	tool, state := fakeTool(t)
	if err := os.WriteFile(filepath.Join(state, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err := setUpIdentity(t.Context(), tool, dir, "", nil, func(string, ...any) {})
	want := "launcher: identity bootstrap-admin: exit status 1: identity: database unreachable"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, AdminFile)); !os.IsNotExist(err) {
		t.Errorf("admin.json after a failed bootstrap: %v, want none", err)
	}
}

func TestLoadSecrets(t *testing.T) {
	t.Parallel()
	id := Service{Name: Identity, Secrets: []string{"KEY_ENCRYPTION_KEY"}}
	t.Run("none needed", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		got, err := loadSecrets(dir, []Service{{Name: "quality"}})
		if err != nil || len(got) != 0 {
			t.Fatalf("loadSecrets = %v, %v; want nothing", got, err)
		}
		if _, err := os.Stat(filepath.Join(dir, SecretsFile)); !os.IsNotExist(err) {
			t.Errorf("secrets.json written though no service needs a secret: %v", err)
		}
	})
	t.Run("generated and reused", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		first, err := loadSecrets(dir, []Service{id, {Name: "quality"}})
		if err != nil {
			t.Fatal(err)
		}
		key, err := base64.StdEncoding.DecodeString(first[Identity]["KEY_ENCRYPTION_KEY"])
		if err != nil || len(key) != 32 || len(first) != 1 {
			t.Fatalf("secrets %v: want identity's KEY_ENCRYPTION_KEY, base64 of 32 bytes (%v)", first, err)
		}
		var onDisk map[string]map[string]string
		readMode(t, filepath.Join(dir, SecretsFile), &onDisk)
		if fmt.Sprint(onDisk) != fmt.Sprint(first) {
			t.Errorf("secrets.json %v, want %v", onDisk, first)
		}
		if err := os.Chmod(filepath.Join(dir, SecretsFile), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := loadSecrets(dir, []Service{id})
		if err != nil || fmt.Sprint(again) != fmt.Sprint(first) {
			t.Fatalf("reload = %v, %v; want %v", again, err, first)
		}
		readMode(t, filepath.Join(dir, SecretsFile), &onDisk) // tightened to 0600 on reading
		files := Service{Name: "files", Secrets: []string{"KEY_ENCRYPTION_KEY"}}
		second, err := loadSecrets(dir, []Service{id, files})
		if err != nil {
			t.Fatal(err)
		}
		if second[Identity]["KEY_ENCRYPTION_KEY"] != first[Identity]["KEY_ENCRYPTION_KEY"] ||
			second["files"]["KEY_ENCRYPTION_KEY"] == "" || second["files"]["KEY_ENCRYPTION_KEY"] == second[Identity]["KEY_ENCRYPTION_KEY"] {
			t.Errorf("second load %v: want identity's key kept and a new one for files", second)
		}
		readMode(t, filepath.Join(dir, SecretsFile), &onDisk)
		if len(onDisk) != 2 {
			t.Errorf("secrets.json %v, want identity and files", onDisk)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, SecretsFile), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadSecrets(dir, []Service{id})
		if err == nil || !strings.Contains(err.Error(), "(fix or remove the file)") {
			t.Errorf("loadSecrets of a corrupt file = %v", err)
		}
	})
}

// envLines returns each child's environment from the fakes' "env:" lines in out.
func envLines(out string) map[string][]string {
	envs := map[string][]string{}
	for _, m := range regexp.MustCompile(`\[([a-z-]+)\] +env: (.*)\n`).FindAllStringSubmatch(out, -1) {
		envs[m[1]] = strings.Fields(m[2])
	}
	return envs
}

// TestRunWithIdentity runs the mesh twice with a fake identity: the first start generates the
// secrets, bootstraps the admin, creates the service accounts and the demo crew before the
// services start,
// and each process gets only its own secrets; the second start reuses them all.
func TestRunWithIdentity(t *testing.T) {
	t.Parallel()
	table := []Service{svc(t, "catalog"), svc(t, Identity), svc(t, "quality"), svc(t, "quality-sim")}
	table[2].Demo = []string{"DEMO_SETTING=on"} // passed because a simulator runs
	state := t.TempDir()
	opts := Options{Dir: filepath.Join(reachableDir(t), ".mesh"), BinDir: linkFakes(t, "catalog", Identity, "quality", "quality-sim"),
		Getenv: func(k string) string { return map[string]string{"HOME": state, "PATH": "/usr/bin:/bin"}[k] }}
	var keys map[string]map[string]string
	var accounts map[string]serviceAccount
	for run := 1; run <= 2; run++ {
		r := startRun(t, table, opts)
		r.waitFor("\nmesh ready")
		r.waitFor("[quality-sim] simulating\n")
		out := r.out.String()
		if run == 1 {
			readMode(t, filepath.Join(opts.Dir, SecretsFile), &keys)
			readMode(t, filepath.Join(opts.Dir, AccountsFile), &accounts)
			readMode(t, filepath.Join(opts.Dir, AdminFile), new(AdminCredentials))
			ready, admin := strings.Index(out, "[mesh]        identity ready on"), strings.Index(out, "[mesh]        admin admin@meshwork.local created")
			accts, quality := strings.Index(out, "[mesh]        service accounts created for quality, quality-sim"), strings.Index(out, "[quality]     pid=")
			if ready < 0 || admin < ready || accts < admin || quality < accts {
				t.Errorf("want identity ready, the admin, the accounts, then quality (at %d, %d, %d, %d):\n%s", ready, admin, accts, quality, out)
			}
		} else if strings.Contains(out, "created") {
			t.Errorf("the second start created something:\n%s", out)
		}
		key := "KEY_ENCRYPTION_KEY=" + keys[Identity]["KEY_ENCRYPTION_KEY"]
		envs := envLines(out)
		if !slices.Contains(envs["quality"], "DEMO_SETTING=on") || slices.Contains(envs["catalog"], "DEMO_SETTING=on") {
			t.Errorf("run %d: the demo environment reached %q (quality) and %q (catalog), want quality only", run, envs["quality"], envs["catalog"])
		}
		for name, want := range map[string][]string{
			"catalog":     nil,
			Identity:      {key},
			"quality":     {"SERVICE_CLIENT_ID=sa-quality", "SERVICE_CLIENT_SECRET=" + accounts["quality"].ClientSecret},
			"quality-sim": {"SERVICE_CLIENT_ID=sa-quality-sim", "SERVICE_CLIENT_SECRET=" + accounts["quality-sim"].ClientSecret},
		} {
			var secret []string
			for _, kv := range envs[name] {
				if strings.HasPrefix(kv, "KEY_ENCRYPTION_KEY=") || strings.HasPrefix(kv, "SERVICE_CLIENT_") {
					secret = append(secret, kv)
				}
			}
			if len(envs[name]) == 0 || !slices.Equal(secret, want) {
				t.Errorf("run %d: %s's secrets %q, want %q (environment %q)", run, name, secret, want, envs[name])
			}
		}
		r.cancel()
		if err := r.wait(); err != nil {
			t.Fatalf("run %d: Run after cancel = %v", run, err)
		}
	}
	// With a simulator in the mesh the demo crew is created once, after the accounts.
	want := []string{"bootstrap-admin --email admin@meshwork.local --json",
		"create-service-account --name quality --json", "create-service-account --name quality-sim --json"}
	for i := 1; i <= DemoCrewSize; i++ {
		want = append(want, fmt.Sprintf("create-user --email engineer%d@meshwork.local --name Demo Engineer %d --role engineer --json", i, i))
	}
	if got := calls(t, state); !slices.Equal(got, want) {
		t.Errorf("identity ran %q over two starts, want %q", got, want)
	}
}
