// Package audit names the security events identity records — sign-ins, sessions, grants,
// keys and every admin action — and writes them as structured log lines. Stores keep the same
// entries in the audit table, in the transaction of the change they describe. An entry never
// holds a secret: no password, code, token, hash or key.
package audit

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Action is what happened.
type Action string

// The actions.
const (
	LoginSucceeded        Action = "login.succeeded"
	LoginFailed           Action = "login.failed"
	LoginThrottled        Action = "login.throttled"
	RecoveryCodeUsed      Action = "login.recovery_code_used"
	SessionRefreshed      Action = "session.refreshed"
	RefreshReuseDetected  Action = "session.refresh_reuse_detected"
	LoggedOut             Action = "session.logged_out"
	ServiceTokenIssued    Action = "service_token.issued"
	ServiceTokenRefused   Action = "service_token.refused"
	UserCreated           Action = "user.created"
	UserUpdated           Action = "user.updated"
	UserRolesSet          Action = "user.roles_set"
	UserDeactivated       Action = "user.deactivated"
	PasswordChanged       Action = "user.password_changed"
	PasswordChangeFailed  Action = "user.password_change_failed"
	PasswordRehashed      Action = "user.password_rehashed"
	TOTPEnrolmentBegun    Action = "user.totp_enrolment_begun"
	TOTPEnrolled          Action = "user.totp_enrolled"
	AdminBootstrapped     Action = "user.admin_bootstrapped"
	ServiceAccountCreated Action = "service_account.created"
	ClientSecretRotated   Action = "service_account.secret_rotated"
	GrantCreated          Action = "grant.created"
	GrantRevoked          Action = "grant.revoked"
	SigningKeyCreated     Action = "signing_key.created"
	SigningKeyRotated     Action = "signing_key.rotated"
)

// Entry is one audit event.
type Entry struct {
	// At is when it happened.
	At time.Time
	// Action is what happened.
	Action Action
	// ActorID is who did it: a user id, "system", or empty for an anonymous caller.
	ActorID string
	// SubjectID is whom or what it was done to: a user, grant or key id.
	SubjectID string
	// Source is where the request came from (the peer address), if known.
	Source string
	// Details adds facts, e.g. the reason of a failure or the roles set. Never secrets.
	Details map[string]string
}

// Log writes e as one structured line at info level (warn for failures and reuse), under
// the message "audit".
func Log(ctx context.Context, log *slog.Logger, e Entry) {
	level := slog.LevelInfo
	switch e.Action {
	case LoginFailed, LoginThrottled, RefreshReuseDetected, ServiceTokenRefused, PasswordChangeFailed:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("action", string(e.Action))}
	for _, kv := range [][2]string{{"actor", e.ActorID}, {"subject", e.SubjectID}, {"source", e.Source}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		attrs = append(attrs, slog.String(k, e.Details[k]))
	}
	log.LogAttrs(ctx, level, "audit", attrs...)
}
