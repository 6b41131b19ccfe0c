package rpc

import (
	"context"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/totp"
	"meshwork.dev/platform/errs"
)

// qrSize is the side of the enrolment QR code in pixels.
const qrSize = 256

// BeginTotpEnrollment gives the caller a new TOTP secret to put in an app. The secret waits
// for ConfirmTotpEnrollment; an enrolled authenticator stays in force until then.
func (h *Handler) BeginTotpEnrollment(ctx context.Context, _ *identityv1.BeginTotpEnrollmentRequest) (*identityv1.BeginTotpEnrollmentResponse, error) {
	const op = "rpc.BeginTotpEnrollment"
	_, u, err := h.caller(ctx, op, true)
	if err != nil {
		return nil, err
	}
	if u.ServiceAccount() {
		return nil, errs.E(op, errs.FailedPrecondition, "service accounts use client credentials, not TOTP")
	}
	secret := totp.NewSecret()
	e := h.entry(ctx, audit.TOTPEnrolmentBegun, u.ID(), u.ID(), h.d.Now())
	if err := h.d.Store.BeginTOTP(ctx, u.ID(), secret, e); err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	uri := totp.URI(h.d.TOTPIssuer, u.Email(), secret)
	png, err := totp.QRCode(uri, qrSize)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &identityv1.BeginTotpEnrollmentResponse{OtpauthUri: uri, QrPng: png}, nil
}

// ConfirmTotpEnrollment activates the pending secret with a current code and returns ten
// one-time recovery codes, shown only here.
func (h *Handler) ConfirmTotpEnrollment(ctx context.Context, req *identityv1.ConfirmTotpEnrollmentRequest) (*identityv1.ConfirmTotpEnrollmentResponse, error) {
	const op = "rpc.ConfirmTotpEnrollment"
	_, u, err := h.caller(ctx, op, true)
	if err != nil {
		return nil, err
	}
	if req.GetCode() == "" {
		return nil, errs.BadRequest(op, errs.Violation{Field: "code", Description: "is required"})
	}
	pending, err := h.d.Store.PendingTOTP(ctx, u.ID())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	now := h.d.Now()
	step, ok := totp.Validate(pending, req.GetCode(), now)
	if !ok {
		return nil, errs.BadRequest(op, errs.Violation{Field: "code", Description: "does not match the new secret (is the device's clock right?)"})
	}
	first, err := h.d.UsedCodes.FirstUse(ctx, u.ID(), step)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if !first {
		return nil, errs.BadRequest(op, errs.Violation{Field: "code", Description: "was already used: wait for the next code"})
	}
	codes := totp.NewRecoveryCodes(totp.RecoveryCodes)
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = totp.HashRecoveryCode(c)
	}
	e := h.entry(ctx, audit.TOTPEnrolled, u.ID(), u.ID(), now)
	if _, err := h.d.Store.ConfirmTOTP(ctx, u.ID(), pending, hashes, e); err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	return &identityv1.ConfirmTotpEnrollmentResponse{RecoveryCodes: codes}, nil
}
