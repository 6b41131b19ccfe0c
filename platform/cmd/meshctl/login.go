package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/launcher"
	"meshwork.dev/platform/meshctl/totp"
)

// loginCmd is `meshctl login`.
func (a *app) loginCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "login", args: "[--email E] [--recovery-code C] | --dev [--mesh-dir .mesh]",
		summary: "Signs in to identity with a password and a TOTP code (or a recovery code) and saves the\n" +
			"session for --identity. The password is read without echo from a terminal, otherwise as a\n" +
			"line of standard input. --dev signs in as the admin of a local mesh with its credentials\n" +
			"from <mesh-dir>/admin.json, computing the TOTP code itself."})
	email := fs.String("email", "", "the account's `email` (asked for when not given)")
	recovery := fs.String("recovery-code", "", "a one-time recovery `code` instead of a TOTP code")
	dev := fs.Bool("dev", false, "sign in as the local mesh's admin from <mesh-dir>/admin.json")
	meshDir := fs.String("mesh-dir", ".mesh", "the local mesh's data `directory`, for --dev")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("login: unexpected arguments %q", pos)
	}
	if *dev && (*email != "" || *recovery != "") {
		return usagef("login: --dev takes no --email or --recovery-code")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*identityTimeout)
	defer cancel()
	client, done, err := a.dialIdentity("")
	if err != nil {
		return err
	}
	defer done()
	var req *identityv1.LoginRequest
	var resp *identityv1.LoginResponse
	if *dev {
		req, resp, err = a.devLogin(ctx, client, filepath.Join(*meshDir, launcher.AdminFile))
	} else {
		req, resp, err = a.interactiveLogin(ctx, client, *email, *recovery)
	}
	if err != nil {
		return err
	}
	if resp.GetTotpEnrollmentRequired() || resp.GetTokens().GetRefreshToken() == "" {
		if resp, err = a.firstLogin(ctx, req, resp); err != nil {
			return err
		}
	}
	return a.saveLogin(req.GetEmail(), resp.GetTokens())
}

// interactiveLogin asks for what the flags did not give and logs in.
func (a *app) interactiveLogin(ctx context.Context, client identityv1.IdentityServiceClient, email, recovery string) (*identityv1.LoginRequest, *identityv1.LoginResponse, error) {
	in := a.input()
	var err error
	if email == "" {
		if email, err = in.line("Email: "); err != nil {
			return nil, nil, err
		}
	}
	req := &identityv1.LoginRequest{Email: email, RecoveryCode: recovery}
	if req.Password, err = in.secret("Password: "); err != nil {
		return nil, nil, err
	}
	if recovery == "" { // empty for an account that has not enrolled TOTP yet
		if req.TotpCode, err = in.optional("TOTP code (empty if not enrolled yet): "); err != nil {
			return nil, nil, err
		}
	}
	resp, err := client.Login(ctx, req)
	if err != nil {
		return nil, nil, a.identityErr("login", err)
	}
	return req, resp, nil
}

// devLogin logs in with the credentials in path. A refused TOTP code is most likely one that was
// used already in this 30 s window (each code works once), so it waits for the next window and
// tries once more.
func (a *app) devLogin(ctx context.Context, client identityv1.IdentityServiceClient, path string) (*identityv1.LoginRequest, *identityv1.LoginResponse, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("login --dev: no %s: start the mesh with meshctl up (make run) first, or pass --mesh-dir", path)
	}
	var admin launcher.AdminCredentials
	if err == nil {
		err = json.Unmarshal(b, &admin)
	}
	if err == nil && (admin.Email == "" || admin.Password == "" || admin.TOTPSecret == "") {
		err = errors.New("email, password or totp_secret missing")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("login --dev: %s: %w", path, err)
	}
	req := &identityv1.LoginRequest{Email: admin.Email, Password: admin.Password}
	for attempt := 1; ; attempt++ {
		now := a.now()
		if req.TotpCode, err = totp.Code(admin.TOTPSecret, now); err != nil {
			return nil, nil, fmt.Errorf("login --dev: %s: %w", path, err)
		}
		resp, err := client.Login(ctx, req)
		if err == nil {
			return req, resp, nil
		}
		if attempt == 2 || status.Code(err) != codes.Unauthenticated {
			return nil, nil, a.identityErr("login --dev", err)
		}
		wait := totp.Step - now.Sub(now.Truncate(totp.Step)) + 100*time.Millisecond
		fmt.Fprintf(a.stderr, "login refused; the TOTP code may have been used already: trying the next one in %s\n", wait.Round(time.Second))
		if err := a.sleep(ctx, wait); err != nil {
			return nil, nil, fmt.Errorf("login --dev: %w", err)
		}
	}
}

// firstLogin completes a login that got only an enrolment session (no refresh token): a new
// user's. With the enrolment-only token it enrols TOTP when identity asks for it (shows a new
// secret for an authenticator app, confirms it with a code from the app, prints the recovery
// codes), has the person replace the one-time password, and logs in again with the new
// password and the app's next code.
func (a *app) firstLogin(ctx context.Context, req *identityv1.LoginRequest, resp *identityv1.LoginResponse) (*identityv1.LoginResponse, error) {
	client, done, err := a.dialIdentity(resp.GetTokens().GetAccessToken())
	if err != nil {
		return nil, err
	}
	defer done()
	in := a.input()
	if resp.GetTotpEnrollmentRequired() {
		begin, err := client.BeginTotpEnrollment(ctx, &identityv1.BeginTotpEnrollmentRequest{})
		if err != nil {
			return nil, a.identityErr("login: enrol TOTP", err)
		}
		fmt.Fprintf(a.stderr, "%s has no TOTP yet. Add this to an authenticator app:\n  %s\n", req.GetEmail(), begin.GetOtpauthUri())
		code, err := in.line("Code from the app: ")
		if err != nil {
			return nil, err
		}
		confirm, err := client.ConfirmTotpEnrollment(ctx, &identityv1.ConfirmTotpEnrollmentRequest{Code: code})
		if err != nil {
			return nil, a.identityErr("login: confirm TOTP", err)
		}
		fmt.Fprintf(a.stderr, "TOTP enrolled. Recovery codes, each usable once instead of a code (keep them safe):\n  %s\n",
			strings.Join(confirm.GetRecoveryCodes(), "\n  "))
	}
	fmt.Fprintln(a.stderr, "Choose your own password to replace the one-time password.")
	next := &identityv1.LoginRequest{Email: req.GetEmail()}
	if next.Password, err = in.secret("New password: "); err != nil {
		return nil, err
	}
	if again, err := in.secret("New password again: "); err != nil {
		return nil, err
	} else if again != next.Password {
		return nil, usagef("login: the new passwords differ")
	}
	if _, err := client.ChangePassword(ctx, &identityv1.ChangePasswordRequest{CurrentPassword: req.GetPassword(), NewPassword: next.Password}); err != nil {
		return nil, a.identityErr("login: change password", err)
	}
	if next.TotpCode, err = in.line("Next code from the app (each code works once): "); err != nil {
		return nil, err
	}
	login, done2, err := a.dialIdentity("")
	if err != nil {
		return nil, err
	}
	defer done2()
	if resp, err = login.Login(ctx, next); err != nil {
		return nil, a.identityErr("login", err)
	}
	if resp.GetTokens().GetRefreshToken() == "" {
		return nil, errors.New("login: identity still grants only an enrolment session")
	}
	return resp, nil
}

// saveLogin saves the session and says so.
func (a *app) saveLogin(email string, tokens *identityv1.Tokens) error {
	store, err := a.store()
	if err != nil {
		return err
	}
	sess := sessionOf(email, tokens)
	if sess.AccessToken == "" || sess.RefreshToken == "" {
		return errors.New("login: identity returned no tokens")
	}
	if err := store.Put(a.g.identity, sess); err != nil {
		return err
	}
	if a.json() {
		return a.printJSON(map[string]string{"identity": a.g.identity, "email": email,
			"access_token_expires_at": sess.AccessTokenExpiresAt.UTC().Format(time.RFC3339), "credentials": store.Path()})
	}
	fmt.Fprintf(a.stdout, "logged in to %s as %s (session saved in %s)\n", a.g.identity, email, store.Path())
	return nil
}

// tokenCmd is `meshctl token`.
func (a *app) tokenCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "token", summary: "Prints a current access token of the saved session for --identity, refreshing it when it\n" +
		"expires within 30 s:  grpcurl -H \"authorization: Bearer $(meshctl token)\" …"})
	if pos, err := a.parse(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			err = usagef("token: unexpected arguments %q", pos)
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	sess, err := a.session(ctx)
	if err != nil {
		return err
	}
	if a.json() {
		return a.printJSON(map[string]string{"access_token": sess.AccessToken, "expires_at": sess.AccessTokenExpiresAt.UTC().Format(time.RFC3339)})
	}
	_, err = fmt.Fprintln(a.stdout, sess.AccessToken)
	return err
}

// logoutCmd is `meshctl logout`.
func (a *app) logoutCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "logout", summary: "Revokes the saved session for --identity and forgets its tokens."})
	if pos, err := a.parse(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			err = usagef("logout: unexpected arguments %q", pos)
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	store, err := a.store()
	if err != nil {
		return err
	}
	sess, ok, err := store.Get(a.g.identity)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(a.stdout, "not logged in to %s\n", a.g.identity)
		return nil
	}
	var rpcErr error
	if sess.AccessTokenExpiresAt.After(a.now()) {
		client, done, err := a.dialIdentity(sess.AccessToken)
		if err != nil {
			return err
		}
		_, rpcErr = client.Logout(ctx, &identityv1.LogoutRequest{RefreshToken: sess.RefreshToken})
		done()
	}
	if _, err := store.Delete(a.g.identity); err != nil {
		return err
	}
	if rpcErr != nil && status.Code(rpcErr) != codes.Unauthenticated { // an ended session needs no revoking
		return fmt.Errorf("%w; the session was forgotten here but may stay valid until it expires", a.identityErr("logout", rpcErr))
	}
	fmt.Fprintf(a.stdout, "logged out of %s\n", a.g.identity)
	return nil
}
