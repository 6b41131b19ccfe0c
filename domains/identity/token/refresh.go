package token

import (
	"time"

	"github.com/google/uuid"

	"meshwork.dev/platform/errs"
)

// DefaultRefreshTTL is how long a refresh token lives.
const DefaultRefreshTTL = 7 * 24 * time.Hour

// Refresh is a new refresh token. Token is shown to the client once; storage keeps Hash.
// Tokens of one sign-in share a family: each refresh spends the token and issues the next in
// the same family.
type Refresh struct {
	Token     string
	Hash      []byte
	FamilyID  string
	ExpiresAt time.Time
}

// NewRefresh returns a refresh token of family (a new family when empty) valid for ttl.
func NewRefresh(family string, now time.Time, ttl time.Duration) Refresh {
	if family == "" {
		family = uuid.NewString()
	}
	tok := randomToken("mwrt_")
	return Refresh{Token: tok, Hash: Hash(tok), FamilyID: family, ExpiresAt: now.Add(ttl)}
}

// StoredRefresh is what storage knows about a presented refresh token.
type StoredRefresh struct {
	UserID    string
	FamilyID  string
	ExpiresAt time.Time
	UsedAt    time.Time // when it was rotated; zero while unused
	RevokedAt time.Time // when its family was revoked; zero while not
}

// Outcome is what presenting a refresh token leads to.
type Outcome int

// The outcomes CheckRefresh decides.
const (
	// Spend: mark the token used and issue the next one of the family.
	Spend Outcome = iota + 1
	// Reused: the token was already spent, so it leaked or the client is confused; the
	// whole family must be revoked.
	Reused
	// Refused: expired or revoked; nothing changes.
	Refused
)

// CheckRefresh decides what presenting s at now leads to. A revoked family stays refused
// even on reuse, so there is nothing more to revoke.
func CheckRefresh(s StoredRefresh, now time.Time) Outcome {
	switch {
	case !s.RevokedAt.IsZero():
		return Refused
	case !s.UsedAt.IsZero():
		return Reused
	case !now.Before(s.ExpiresAt):
		return Refused
	}
	return Spend
}

// ErrRefreshRefused is the one error every unusable refresh token gets, so a caller learns
// nothing about why.
var ErrRefreshRefused = errs.E("token.Refresh", errs.Unauthenticated, "refresh token is invalid, expired or revoked; sign in again")
