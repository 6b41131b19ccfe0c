package user

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"meshwork.dev/platform/errs"
)

// Limits on account fields.
const (
	MaxEmailLength       = 254
	MaxDisplayNameLength = 100
	MinPasswordLength    = 12
	// MaxPasswordBytes bounds what is hashed, so a caller cannot make hashing arbitrarily
	// expensive; 256 bytes is far beyond any passphrase.
	MaxPasswordBytes = 256
)

// accountName is a service account name: kebab-case, 2 to 40 characters.
var accountName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// NormalizeEmail trims and lower-cases an address and checks that it is a bare address,
// local@domain with at least one dot in the domain (so "root@localhost" is refused). It
// returns an Invalid error naming field.
func NormalizeEmail(field, email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	bad := func(why string) (string, error) {
		return "", errs.BadRequest("user.NormalizeEmail", errs.Violation{Field: field, Description: why})
	}
	switch {
	case e == "":
		return bad("is required")
	case len(e) > MaxEmailLength:
		return bad("must be at most 254 characters")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return bad("is not an email address like name@example.com")
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return bad("is not an email address like name@example.com")
	}
	return e, nil
}

// checkDisplayName returns the trimmed name or an Invalid error naming field.
func checkDisplayName(field, name string) (string, error) {
	n := strings.TrimSpace(name)
	bad := func(why string) (string, error) {
		return "", errs.BadRequest("user.checkDisplayName", errs.Violation{Field: field, Description: why})
	}
	switch {
	case n == "":
		return bad("is required")
	case !utf8.ValidString(n):
		return bad("must be valid UTF-8")
	case utf8.RuneCountInString(n) > MaxDisplayNameLength:
		return bad("must be at most 100 characters")
	case strings.ContainsFunc(n, unicode.IsControl):
		return bad("must not contain control characters")
	}
	return n, nil
}

// CheckAccountName checks a service account name: kebab-case, 2 to 40 characters. It
// returns an Invalid error naming field.
func CheckAccountName(field, name string) error {
	if len(name) < 2 || len(name) > 40 || !accountName.MatchString(name) {
		return errs.BadRequest("user.CheckAccountName", errs.Violation{Field: field,
			Description: "must be a kebab-case name of 2 to 40 characters, like \"scheduling\""})
	}
	return nil
}

// common are passwords long enough for the length rule that every cracking list starts with.
var common = []string{
	"password1234", "password12345", "passwordpassword", "123456789012", "1234567890123",
	"qwertyuiopasdf", "qwertyuiop12", "letmeinletmein", "adminadminadmin", "administrator",
	"changemechangeme", "iloveyouiloveyou", "meshworkmeshwork",
}

// CheckPassword applies the password policy to a new password of the account with email
// (empty for service accounts): at least 12 characters, at most 256 bytes, not the email
// address or its local part, not one repeated character, not a well-known password. It
// returns an Invalid error naming field, without ever quoting the password.
func CheckPassword(field, password, email string) error {
	bad := func(why string) error {
		return errs.BadRequest("user.CheckPassword", errs.Violation{Field: field, Description: why})
	}
	lower := strings.ToLower(password)
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return bad("must be at least 12 characters")
	case len(password) > MaxPasswordBytes:
		return bad("must be at most 256 bytes")
	case !utf8.ValidString(password):
		return bad("must be valid UTF-8")
	case email != "" && (lower == strings.ToLower(email) || lower == local):
		return bad("must not be the email address")
	case strings.Count(password, password[:1]) == len(password):
		return bad("must not be one repeated character")
	}
	for _, c := range common {
		if lower == c {
			return bad("is a well-known password")
		}
	}
	return nil
}
