package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/errs"
)

// Identity signs users in with the mesh's identity service. Errors carry errs kinds:
// Unauthenticated for a wrong email, password or code.
type Identity interface {
	// Login exchanges email, password and a TOTP (or recovery) code for a session.
	Login(ctx context.Context, email, password, code string) (Session, error)
	// Me returns the user an access token belongs to.
	Me(ctx context.Context, accessToken string) (User, error)
	// Logout ends the session a refresh token belongs to.
	Logout(ctx context.Context, refreshToken string) error
}

// Session is a signed-in user's tokens.
type Session struct {
	AccessToken, RefreshToken string
	// Expires is when the access token expires.
	Expires time.Time
	// EnrollmentRequired is set for a user who has not enrolled TOTP yet: the session is not
	// usable in the console.
	EnrollmentRequired bool
}

// User is the signed-in user.
type User struct {
	ID, Email, Name string
	Roles           []string
	// Token is the user's access token, passed on to the Access API.
	Token string
}

// HasRole reports whether the user has role (lower case, e.g. "admin").
func (u *User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Cookie names. The access token is HttpOnly and SameSite=Strict, so no script and no other
// site can use it; the refresh token is only sent to /signout, which revokes it.
const (
	accessCookie  = "mesh_access"
	refreshCookie = "mesh_refresh"
)

// IdentityService is Identity over identity's gRPC API (mesh.identity.v1.IdentityService).
func IdentityService(conn grpc.ClientConnInterface) Identity {
	return identityClient{c: identityv1.NewIdentityServiceClient(conn)}
}

type identityClient struct {
	c identityv1.IdentityServiceClient
}

func (ic identityClient) Login(ctx context.Context, email, password, code string) (Session, error) {
	resp, err := ic.c.Login(ctx, &identityv1.LoginRequest{Email: email, Password: password, TotpCode: code})
	if err != nil {
		return Session{}, fromStatus("identity.Login", err)
	}
	t := resp.GetTokens()
	return Session{AccessToken: t.GetAccessToken(), RefreshToken: t.GetRefreshToken(), Expires: t.GetAccessTokenExpiresAt().AsTime(),
		EnrollmentRequired: resp.GetTotpEnrollmentRequired()}, nil
}

func (ic identityClient) Me(ctx context.Context, token string) (User, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	resp, err := ic.c.GetMe(ctx, &identityv1.GetMeRequest{})
	if err != nil {
		return User{}, fromStatus("identity.GetMe", err)
	}
	u := resp.GetUser()
	out := User{ID: u.GetId(), Email: u.GetEmail(), Name: u.GetDisplayName(), Token: token}
	for _, r := range u.GetRoles() {
		out.Roles = append(out.Roles, strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_")))
	}
	return out, nil
}

func (ic identityClient) Logout(ctx context.Context, refresh string) error {
	_, err := ic.c.Logout(ctx, &identityv1.LogoutRequest{RefreshToken: refresh})
	return fromStatus("identity.Logout", err)
}

// fromStatus turns a gRPC status into an errs kind.
func fromStatus(op string, err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	kind := errs.Unavailable
	switch st.Code() {
	case codes.InvalidArgument:
		kind = errs.Invalid
	case codes.Unauthenticated:
		kind = errs.Unauthenticated
	case codes.PermissionDenied:
		kind = errs.Forbidden
	case codes.NotFound:
		kind = errs.NotFound
	case codes.ResourceExhausted:
		kind = errs.ResourceExhausted
	case codes.FailedPrecondition:
		kind = errs.FailedPrecondition
	case codes.AlreadyExists, codes.Aborted:
		kind = errs.Conflict
	}
	return errs.E(op, kind, st.Message())
}

// userCache remembers who an access token belongs to for a minute (never past the token's
// life), so pages do not ask identity on every request.
type userCache struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cachedUser
}

type cachedUser struct {
	u     User
	until time.Time
}

// userCacheSize bounds the cache; when full it is emptied.
const userCacheSize = 1024

func newUserCache(now func() time.Time) *userCache {
	return &userCache{now: now, m: map[string]cachedUser{}}
}

func (c *userCache) get(token string) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cu, ok := c.m[token]
	if !ok || !c.now().Before(cu.until) {
		delete(c.m, token)
		return User{}, false
	}
	return cu.u, true
}

func (c *userCache) put(token string, u User, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= userCacheSize {
		clear(c.m)
	}
	if limit := c.now().Add(time.Minute); until.After(limit) {
		until = limit
	}
	c.m[token] = cachedUser{u: u, until: until}
}

func (c *userCache) drop(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, token)
}

// user returns the signed-in user, nil when there is none or the token is no longer valid.
func (c *Console) user(r *http.Request) *User {
	if c.cfg.Identity == nil {
		return nil
	}
	ck, err := r.Cookie(accessCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	if u, ok := c.users.get(ck.Value); ok {
		return &u
	}
	u, err := c.cfg.Identity.Me(r.Context(), ck.Value)
	if err != nil {
		return nil
	}
	c.users.put(ck.Value, u, c.cfg.Now().Add(time.Minute))
	return &u
}

// signinData is the sign-in page's data.
type signinData struct {
	Email, Error, Next string
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Identity == nil {
		c.fail(w, r, errs.E("web.signin", errs.Unavailable, "sign-in is not configured"))
		return
	}
	c.render(w, r, "signin", "Sign in", "signin", signinData{Next: localPath(r.URL.Query().Get("next"))})
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Identity == nil {
		c.fail(w, r, errs.E("web.signin", errs.Unavailable, "sign-in is not configured"))
		return
	}
	if !sameOrigin(r) {
		c.fail(w, r, errs.E("web.signin", errs.Forbidden, "cross-site form posts are refused"))
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	password, code := r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("code"))
	d := signinData{Email: email, Next: localPath(r.PostFormValue("next"))}
	missing := []string{}
	for _, f := range []struct{ name, v string }{{"email", email}, {"password", password}, {"code", code}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		d.Error = "Please fill in: " + strings.Join(missing, ", ") + "."
		c.renderStatus(w, r, http.StatusBadRequest, "signin", "Sign in", "signin", d)
		return
	}
	s, err := c.cfg.Identity.Login(r.Context(), email, password, code)
	if err == nil && s.EnrollmentRequired {
		err = errs.E("web.signin", errs.FailedPrecondition, "enrol an authenticator first (meshctl login), then sign in here")
	}
	if err != nil {
		d.Error = errs.Message(err)
		code := http.StatusUnauthorized
		if k := errs.KindOf(err); k == errs.Unavailable || k == errs.Internal {
			d.Error, code = "The identity service is unavailable; try again.", http.StatusServiceUnavailable
		}
		c.renderStatus(w, r, code, "signin", "Sign in", "signin", d)
		return
	}
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: accessCookie, Value: s.AccessToken, Path: "/", Expires: s.Expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: refreshCookie, Value: s.RefreshToken, Path: "/signout",
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	next := d.Next
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.fail(w, r, errs.E("web.signout", errs.Forbidden, "cross-site form posts are refused"))
		return
	}
	if ck, err := r.Cookie(accessCookie); err == nil {
		c.users.drop(ck.Value)
	}
	if ck, err := r.Cookie(refreshCookie); err == nil && ck.Value != "" && c.cfg.Identity != nil {
		if err := c.cfg.Identity.Logout(r.Context(), ck.Value); err != nil {
			c.log.WarnContext(r.Context(), "web console: logout", "err", err)
		}
	}
	for _, ck := range []http.Cookie{{Name: accessCookie, Path: "/"}, {Name: refreshCookie, Path: "/signout"}} {
		ck.MaxAge, ck.HttpOnly, ck.SameSite = -1, true, http.SameSiteStrictMode
		http.SetCookie(w, &ck)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sameOrigin refuses form posts a browser marks as coming from another site (SameSite=Strict
// already keeps the cookie from them; this also covers sign-in, which has no cookie yet).
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// localPath keeps a redirect target only when it is a path on this site.
func localPath(p string) string {
	if strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.Contains(p, "\\") {
		return p
	}
	return ""
}
