package rpc

import (
	"context"
	"encoding/json"
	"time"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// GetJWKS returns the published public keys, the one signing now first.
func (h *Handler) GetJWKS(context.Context, *identityv1.GetJWKSRequest) (*identityv1.GetJWKSResponse, error) {
	set := h.d.Issuer.Keys().JWKS(h.d.Now())
	raw, err := json.Marshal(set)
	if err != nil {
		return nil, errs.Errorf("rpc.GetJWKS", errs.Internal, "encode: %w", err)
	}
	resp := &identityv1.GetJWKSResponse{JwksJson: string(raw)}
	for _, k := range set.Keys {
		resp.KeyIds = append(resp.KeyIds, k.KeyID)
	}
	return resp, nil
}

// RotateSigningKey makes a new key current (admin): published at once, signing after the
// activation delay, when the old key stops signing. The old key stays published until every
// token it signed has expired (token.Overlap). Every replica loads the new key within the
// reload interval, this one at once; the delay covers that.
func (h *Handler) RotateSigningKey(ctx context.Context, _ *identityv1.RotateSigningKeyRequest) (*identityv1.RotateSigningKeyResponse, error) {
	const op = "rpc.RotateSigningKey"
	_, actor, err := h.caller(ctx, op, false, user.Admin)
	if err != nil {
		return nil, err
	}
	now := h.d.Now()
	next := token.NewSigningKey(now)
	e := h.entry(ctx, audit.SigningKeyRotated, actor.ID(), next.ID, now)
	e.Details = map[string]string{"signs_from": now.Add(h.d.ActivationDelay).Format(time.RFC3339)}
	if _, err := h.d.Store.RotateSigningKey(ctx, next, h.d.ActivationDelay, h.Overlap(), e); err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	if err := h.ReloadKeys(ctx); err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &identityv1.RotateSigningKeyResponse{KeyId: next.ID}, nil
}

// Overlap is how long a retired signing key stays published.
func (h *Handler) Overlap() time.Duration {
	return token.Overlap(h.d.Issuer.Config().AccessTTL, h.d.KeyReload)
}

// ReloadKeys loads the published signing keys from the store into the issuer's keyring, so
// a rotation made elsewhere (another replica, `identity rotate-signing-key`) takes effect.
func (h *Handler) ReloadKeys(ctx context.Context) error {
	keys, err := h.d.Store.SigningKeys(ctx, h.d.Now())
	if err != nil {
		return errs.Wrap("rpc.ReloadKeys", err)
	}
	return errs.Wrap("rpc.ReloadKeys", h.d.Issuer.Keys().Set(keys))
}
