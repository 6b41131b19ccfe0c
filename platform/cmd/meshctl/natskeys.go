package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"meshwork.dev/platform/natsauth"
)

// natsKeysCmd is `meshctl nats-keys`: fresh NATS authentication keys as .env lines for
// docker compose (make run generates its own into .mesh/secrets.json).
func (a *app) natsKeysCmd(args []string) error {
	fs := a.newFlags(cmdSpec{name: "nats-keys", summary: "Prints fresh NATS authentication keys and the PII hash key as .env lines for\n" +
		"docker compose: bin/meshctl nats-keys >> .env. Keep them secret."})
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	k, err := natsauth.NewKeys()
	if err != nil {
		return err
	}
	kp, err := k.Issuer()
	if err != nil {
		return err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return err
	}
	pii := make([]byte, 32)
	_, _ = rand.Read(pii)
	fmt.Fprintf(a.stdout, "NATS_ISSUER_PUBLIC=%s\nNATS_ISSUER_SEED=%s\nNATS_AUTH_PASSWORD=%s\nNATS_GOVERNANCE_PASSWORD=%s\n"+
		"NATS_SYSTEM_PASSWORD=%s\nNATS_IDENTITY_PASSWORD=%s\nPII_HASH_KEY=%s\n", pub, k.IssuerSeed, k.AuthPassword,
		k.GovernancePassword, k.SystemPassword, k.IdentityPassword, base64.StdEncoding.EncodeToString(pii))
	return nil
}
