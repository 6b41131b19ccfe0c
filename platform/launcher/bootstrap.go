package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// AdminEmail is the email of the first admin that the launcher bootstraps.
const AdminEmail = "admin@meshwork.local"

// AdminCredentials is what AdminFile holds: the first admin's dev credentials, as
// `identity bootstrap-admin --json` printed them. `meshctl login --dev` reads it.
type AdminCredentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// TOTPSecret is the base32 TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s).
	TOTPSecret string `json:"totp_secret"`
	// OTPAuthURI is the same secret as an otpauth:// URI, for an authenticator app.
	OTPAuthURI string `json:"otpauth_uri,omitempty"`
}

// serviceAccount is a service account's credentials, one entry of AccountsFile.
type serviceAccount struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// adminExists is the exit status of `identity bootstrap-admin` when an admin already exists.
const adminExists = 3

// toolTimeout bounds one run of an identity subcommand.
const toolTimeout = time.Minute

// identityTool runs the identity binary's admin subcommands with identity's environment.
type identityTool struct {
	path string
	env  []string
}

// run runs `identity <args…>` and returns its standard output. A failure is an error naming
// the subcommand, its exit status and its last line on stderr; the *exec.ExitError stays in
// the chain.
func (t identityTool) run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.path, args...)
	cmd.Env = t.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr, syscall.SIGTERM)
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		last := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if last != "" {
			return nil, fmt.Errorf("launcher: identity %s: %w: %s", args[0], err, last)
		}
		return nil, fmt.Errorf("launcher: identity %s: %w", args[0], err)
	}
	return stdout.Bytes(), nil
}

// setUpIdentity runs once identity is ready and before the services that depend on it start:
// it bootstraps the first admin into dir/admin.json unless that file exists, and makes sure
// each client with Account set has a service account. It returns each client's
// SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET pairs, by name. pgData is the Postgres data
// directory, named in the advice to start afresh when it lies outside dir.
func setUpIdentity(ctx context.Context, tool identityTool, dir, pgData string, clients []Service, say func(string, ...any)) (map[string][]string, error) {
	fresh := dir
	if pgData != "" && !strings.HasPrefix(pgData, dir+string(filepath.Separator)) {
		fresh += " and " + pgData
	}
	if err := bootstrapAdmin(ctx, tool, dir, fresh, say); err != nil {
		return nil, err
	}
	var names []string
	for _, s := range clients {
		if s.Account {
			names = append(names, s.Name)
		}
	}
	accounts, err := ensureAccounts(ctx, tool, dir, names, say)
	if err != nil {
		return nil, err
	}
	env := map[string][]string{}
	for name, a := range accounts {
		env[name] = []string{"SERVICE_CLIENT_ID=" + a.ClientID, "SERVICE_CLIENT_SECRET=" + a.ClientSecret}
	}
	return env, nil
}

// bootstrapAdmin creates the first admin with `identity bootstrap-admin` and writes its
// credentials to dir/admin.json, unless that file exists. When identity already has an admin
// whose credentials are gone, it says so, advising to remove fresh, and carries on.
func bootstrapAdmin(ctx context.Context, tool identityTool, dir, fresh string, say func(string, ...any)) error {
	path := filepath.Join(dir, AdminFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	out, err := tool.run(ctx, "bootstrap-admin", "--email", AdminEmail, "--json")
	if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() == adminExists {
		say("identity already has an admin, but %s is missing: its credentials are lost (to start afresh, stop the mesh and remove %s)", path, fresh)
		return nil
	}
	if err != nil {
		return err
	}
	var admin AdminCredentials
	if err := json.Unmarshal(out, &admin); err != nil {
		return fmt.Errorf("launcher: identity bootstrap-admin printed no credentials: %w", err)
	}
	if admin.Email == "" || admin.Password == "" || admin.TOTPSecret == "" {
		return errors.New("launcher: identity bootstrap-admin printed no email, password or totp_secret")
	}
	if err := writePrivate(path, admin); err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	say("admin %s created: dev credentials in %s (meshctl login --dev)", admin.Email, path)
	return nil
}

// ensureAccounts returns the service accounts of names from dir/service-accounts.json,
// creating with `identity create-service-account` those it lacks and saving the file after
// each.
func ensureAccounts(ctx context.Context, tool identityTool, dir string, names []string, say func(string, ...any)) (map[string]serviceAccount, error) {
	path := filepath.Join(dir, AccountsFile)
	accounts := map[string]serviceAccount{}
	if len(names) == 0 {
		return accounts, nil
	}
	if _, err := readPrivate(path, &accounts); err != nil {
		return nil, fmt.Errorf("launcher: service accounts: %w", err)
	}
	var created []string
	for _, name := range names {
		if a := accounts[name]; a.ClientID != "" && a.ClientSecret != "" {
			continue
		}
		out, err := tool.run(ctx, "create-service-account", "--name", name, "--json")
		if err != nil {
			return nil, err
		}
		var a serviceAccount
		if err := json.Unmarshal(out, &a); err != nil || a.ClientID == "" || a.ClientSecret == "" {
			return nil, fmt.Errorf("launcher: identity create-service-account --name %s printed no client_id and client_secret", name)
		}
		accounts[name] = a
		if err := writePrivate(path, accounts); err != nil {
			return nil, fmt.Errorf("launcher: %w", err)
		}
		created = append(created, name)
	}
	if len(created) > 0 {
		say("service accounts created for %s (credentials in %s)", strings.Join(created, ", "), path)
	}
	return accounts, nil
}
