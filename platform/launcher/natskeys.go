package launcher

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"meshwork.dev/platform/natsauth"
)

// natsSecrets is the entry of secrets.json holding the NATS server's authentication keys.
const natsSecrets = "nats"

// loadNATSKeys returns the mesh's NATS authentication keys from dir/secrets.json, generating
// and saving them on first start.
func loadNATSKeys(dir string) (natsauth.Keys, error) {
	const op = "launcher: NATS keys"
	k, all, ok, err := storedNATSKeys(dir)
	if err != nil || ok {
		return k, err
	}
	if k, err = natsauth.NewKeys(); err != nil {
		return natsauth.Keys{}, fmt.Errorf("%s: %w", op, err)
	}
	all[natsSecrets] = map[string]string{"issuer_seed": k.IssuerSeed, "auth_password": k.AuthPassword,
		"governance_password": k.GovernancePassword, "system_password": k.SystemPassword, "identity_password": k.IdentityPassword}
	if err := writePrivate(filepath.Join(dir, SecretsFile), all); err != nil {
		return natsauth.Keys{}, fmt.Errorf("%s: %w", op, err)
	}
	return k, nil
}

// readNATSKeys returns the keys loadNATSKeys saved in dir/secrets.json; it generates none.
// A NATS node (RunNATSNode) reads them there, so that they are on no command line.
func readNATSKeys(dir string) (natsauth.Keys, error) {
	k, _, ok, err := storedNATSKeys(dir)
	if err == nil && !ok {
		err = fmt.Errorf("launcher: NATS keys: %s has none (meshctl up writes them before it starts a node)", filepath.Join(dir, SecretsFile))
	}
	return k, err
}

// storedNATSKeys reads dir/secrets.json: the NATS keys, whether all of them are there, and the
// whole file's content.
func storedNATSKeys(dir string) (natsauth.Keys, map[string]map[string]string, bool, error) {
	all := map[string]map[string]string{}
	if _, err := readPrivate(filepath.Join(dir, SecretsFile), &all); err != nil {
		return natsauth.Keys{}, nil, false, fmt.Errorf("launcher: NATS keys: %w", err)
	}
	m := all[natsSecrets]
	k := natsauth.Keys{IssuerSeed: m["issuer_seed"], AuthPassword: m["auth_password"], GovernancePassword: m["governance_password"],
		SystemPassword: m["system_password"], IdentityPassword: m["identity_password"]}
	ok := k.IssuerSeed != "" && k.AuthPassword != "" && k.GovernancePassword != "" && k.SystemPassword != "" && k.IdentityPassword != ""
	return k, all, ok, nil
}

// natsEnv is the NATS credentials each process gets: the catalog its static governance user
// and the callout's keys (it answers the server's authorization requests), identity its
// password, and the catalog the grants the table's consumers start with (ACCESS_SEED). The
// others authenticate with their service accounts' tokens.
func natsEnv(k natsauth.Keys, table []Service) map[string][]string {
	var seeds []string
	for _, s := range table {
		if len(s.Consumes) > 0 {
			seeds = append(seeds, s.Name+"="+strings.Join(s.Consumes, ","))
		}
	}
	slices.Sort(seeds)
	return map[string][]string{
		Catalog: {"NATS_USER=" + natsauth.GovernanceUser, "NATS_PASSWORD=" + k.GovernancePassword,
			"NATS_ISSUER_SEED=" + k.IssuerSeed, "NATS_AUTH_PASSWORD=" + k.AuthPassword,
			"NATS_SYSTEM_PASSWORD=" + k.SystemPassword, "NATS_IDENTITY_PASSWORD=" + k.IdentityPassword,
			"ACCESS_SEED=" + strings.Join(seeds, ";")},
		Identity: {"NATS_TOKEN=" + k.IdentityCredential()},
	}
}
