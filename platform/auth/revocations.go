package auth

import (
	"sync"
	"time"

	"meshwork.dev/platform/errs"
)

// Revocations are identity's later word on tokens it already issued: every token of an account
// that is deactivated, and the tokens issued before an account's roles changed (they carry the
// old roles). A Verifier given Revocations refuses those tokens even though they verify and
// have not expired. Package revocation keeps them up to date from identity.users.v1. It is safe
// for concurrent use; the zero value is empty and ready to use.
type Revocations struct {
	mu       sync.RWMutex
	subjects map[string]revocation
}

// revocation is what is known of one subject.
type revocation struct {
	inactive bool
	before   time.Time // tokens issued before this (whole seconds, as iat) are refused
}

// NewRevocations returns an empty set.
func NewRevocations() *Revocations { return &Revocations{} }

// Set records subject's state: whether the account is active, and since when its earlier
// tokens no longer hold (zero: no change). A later since replaces an earlier one; an earlier
// one is ignored, so replayed changes cannot shorten a revocation.
func (r *Revocations) Set(subject string, active bool, since time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subjects == nil {
		r.subjects = make(map[string]revocation)
	}
	rv := r.subjects[subject]
	rv.inactive = !active
	// iat has whole seconds: a token issued in the second of the change is given the benefit
	// of the doubt rather than refusing the fresh token a client fetched right after it.
	if s := since.Truncate(time.Second); s.After(rv.before) {
		rv.before = s
	}
	if !rv.inactive && rv.before.IsZero() {
		delete(r.subjects, subject)
		return
	}
	r.subjects[subject] = rv
}

// Check returns an errs.Unauthenticated error when c has been taken back.
func (r *Revocations) Check(c *Claims) error {
	const op = "auth.Revocations"
	r.mu.RLock()
	rv, ok := r.subjects[c.Subject]
	r.mu.RUnlock()
	switch {
	case !ok:
		return nil
	case rv.inactive:
		return errs.E(op, errs.Unauthenticated, "the account is deactivated")
	case !rv.before.IsZero() && c.IssuedAt.Before(rv.before):
		return errs.E(op, errs.Unauthenticated, "the account changed after this token was issued; sign in or refresh again")
	}
	return nil
}

// Len reports how many subjects have a revocation.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.subjects)
}
