package rpc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// Page sizes of the list RPCs.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

func userToProto(u *user.User) *identityv1.User {
	out := &identityv1.User{
		Id:             u.ID(),
		Email:          u.Email(),
		DisplayName:    u.DisplayName(),
		Active:         u.Active(),
		TotpEnrolled:   u.TOTPEnrolled(),
		ServiceAccount: u.ServiceAccount(),
		CreatedAt:      timestamppb.New(u.CreatedAt()),
		UpdatedAt:      timestamppb.New(u.UpdatedAt()),
	}
	for _, r := range u.Roles() {
		out.Roles = append(out.Roles, stream.Roles[r])
	}
	return out
}

// roleFromProto maps the contract's role to the domain's; ok is false for unknown values.
func roleFromProto(r identityv1.Role) (user.Role, bool) {
	for d, p := range stream.Roles {
		if p == r {
			return d, true
		}
	}
	return "", false
}

// rolesFromProto converts roles, reporting unknown ones as violations of field.
func rolesFromProto(field string, rs []identityv1.Role) ([]user.Role, []errs.Violation) {
	var out []user.Role
	var vs []errs.Violation
	for i, r := range rs {
		d, ok := roleFromProto(r)
		if !ok {
			vs = append(vs, errs.Violation{Field: field + "[" + strconv.Itoa(i) + "]", Description: "is not a role"})
			continue
		}
		out = append(out, d)
	}
	return out, vs
}

func grantToProto(g *grant.Grant) *identityv1.Grant {
	s := g.Snapshot()
	out := &identityv1.Grant{
		Id:          s.ID,
		SubjectId:   s.SubjectID,
		Application: s.Application,
		Scopes:      s.Scopes,
		ExpiresAt:   timestamppb.New(s.ExpiresAt),
		GrantedBy:   s.GrantedBy,
		CreatedAt:   timestamppb.New(s.CreatedAt),
	}
	if !s.RevokedAt.IsZero() {
		out.RevokedAt = timestamppb.New(s.RevokedAt)
	}
	return out
}

// checkID reports a field that is not a UUID.
func checkID(field, id string) []errs.Violation {
	if id == "" {
		return []errs.Violation{{Field: field, Description: "is required"}}
	}
	if _, err := uuid.Parse(id); err != nil {
		return []errs.Violation{{Field: field, Description: "is not a UUID"}}
	}
	return nil
}

// pageSize applies the list RPCs' defaults and bounds.
func pageSize(n int32) (int, []errs.Violation) {
	switch {
	case n < 0:
		return 0, []errs.Violation{{Field: "page_size", Description: "must not be negative"}}
	case n == 0:
		return defaultPageSize, nil
	}
	return min(int(n), maxPageSize), nil
}

// cursor is the content of a page token: where the last page ended, and a fingerprint of
// the query, so a token is only honoured for the query that made it.
type cursor struct {
	Key   string `json:"k,omitempty"`
	Time  int64  `json:"t,omitempty"`
	ID    string `json:"i"`
	Query string `json:"q"`
}

// fingerprint identifies a list query's filter.
func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:9])
}

func encodeCursor(c cursor) string {
	raw, _ := json.Marshal(c) // a struct of strings and ints always encodes
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor parses a page token of the query with fingerprint query; "" is the start.
func decodeCursor(token, query string) (cursor, []errs.Violation) {
	var c cursor
	if token == "" {
		return c, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil || c.Query != query || uuid.Validate(c.ID) != nil {
		return cursor{}, []errs.Violation{{Field: "page_token", Description: "is not a token of this query"}}
	}
	return c, nil
}

// unixMicro is a cursor's time.
func unixMicro(t int64) time.Time { return time.UnixMicro(t).UTC() }

// requestHash identifies a request for idempotency: its deterministic encoding without the
// idempotency key.
func requestHash(m proto.Message, clearKey func(proto.Message)) []byte {
	c := proto.Clone(m)
	clearKey(c)
	raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	sum := sha256.Sum256(raw)
	return sum[:]
}
