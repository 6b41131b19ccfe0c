package kek_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"meshwork.dev/domains/identity/kek"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k, err := kek.Parse(kek.Generate())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := kek.Parse(kek.Generate())
	secret := []byte("JBSWY3DPEHPK3PXP")
	sealed := k.Seal(secret, "totp:u1")
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if bytes.Equal(sealed, k.Seal(secret, "totp:u1")) {
		t.Error("two seals are equal: the nonce is not random")
	}
	got, err := k.Open(sealed, "totp:u1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other context": func() ([]byte, error) { return k.Open(sealed, "totp:u2") },
		"other key":     func() ([]byte, error) { return other.Open(sealed, "totp:u1") },
		"tampered":      func() ([]byte, error) { return k.Open(tampered, "totp:u1") },
		"truncated":     func() ([]byte, error) { return k.Open(sealed[:10], "totp:u1") },
		"bad version":   func() ([]byte, error) { return k.Open(append([]byte{9}, sealed[1:]...), "totp:u1") },
	} {
		if _, err := open(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfb}, 32)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		" " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		if _, err := kek.Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(raw[:16]), "!!!!" + strings.Repeat("A", 40)} {
		_, err := kek.Parse(s)
		if err == nil {
			t.Errorf("Parse(%q) accepted", s)
			continue
		}
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error quotes the key: %v", err)
		}
	}
}
