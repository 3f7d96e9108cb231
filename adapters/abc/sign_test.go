package abc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// The signing string is five lines, each ending in "\n"; the last is the SM3 of the body.
// The SM3 of "abc" is the GB/T 32905-2016 Appendix A example 1 digest.
func TestSigningString(t *testing.T) {
	t.Parallel()
	got := SigningString("POST", "/open/v2/orders?x=1", "1551767000000", "0123456789abcdef", []byte("abc"))
	want := "POST\n/open/v2/orders?x=1\n1551767000000\n0123456789abcdef\n" +
		"66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0\n"
	if got != want {
		t.Errorf("SigningString =\n%q\nwant\n%q", got, want)
	}
	empty := sm3.Sum(nil)
	if got := SigningString("GET", "/p", "1", "n", nil); got != "GET\n/p\n1\nn\n"+hex.EncodeToString(empty[:])+"\n" {
		t.Errorf("empty body: %q", got)
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	s := SigningString("RESPONSE", "/open/v2/orders", "1551767000000", "0123456789abcdef", []byte(`{"code":"0000"}`))
	sig, err := Sign(k.mall, s)
	if err != nil {
		t.Fatal(err)
	}
	if der, err := base64.StdEncoding.DecodeString(sig); err != nil || len(der) < 8 || der[0] != 0x30 {
		t.Errorf("signature %q is not std base64 of a DER sequence", sig)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		key  *ecdsa.PublicKey
		s    string
		sig  string
		ok   bool
	}{
		{"right_key_and_string_verifies", &k.mall.PublicKey, s, sig, true},
		{"other_key_fails", &k.partner.PublicKey, s, sig, false},
		{"changed_string_fails", &k.mall.PublicKey, s + "x", sig, false},
		{"not_base64_fails", &k.mall.PublicKey, s, "***", false},
		{"empty_fails", &k.mall.PublicKey, s, "", false},
		{"nil_key_fails", nil, s, sig, false},
		{"nist_p256_key_fails", &p256.PublicKey, s, sig, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(tc.key, tc.s, tc.sig)
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrBadSignature)) {
				t.Errorf("Verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
	if _, err := Sign(nil, s); err == nil {
		t.Error("Sign(nil) succeeded")
	}
}

func TestKeysPEM_round_trip_and_LoadKeys(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	der, err := smx509.MarshalPKCS8PrivateKey(k.partner)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := smx509.MarshalPKIXPublicKey(&k.mall.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	privFile, pubFile := filepath.Join(dir, "partner.pem"), filepath.Join(dir, "mall.pem")
	os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600)
	priv, pub, err := LoadKeys(privFile, pubFile)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(k.partner) || !pub.Equal(&k.mall.PublicKey) {
		t.Error("loaded keys differ from the written ones")
	}
	// Swapped files, a NIST key and garbage are refused.
	if _, _, err := LoadKeys(pubFile, privFile); err == nil {
		t.Error("LoadKeys accepted swapped files")
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nistDER, _ := smx509.MarshalPKIXPublicKey(&p256.PublicKey)
	if _, err := ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: nistDER})); err == nil {
		t.Error("ParsePublicKeyPEM accepted a NIST P-256 key")
	}
	if _, err := ParsePrivateKeyPEM([]byte("not pem")); err == nil {
		t.Error("ParsePrivateKeyPEM accepted garbage")
	}
	if _, _, err := LoadKeys(filepath.Join(dir, "absent.pem"), pubFile); err == nil {
		t.Error("LoadKeys accepted a missing file")
	}
}

// FuzzVerify: an arbitrary signature never verifies, and never panics.
func FuzzVerify(f *testing.F) {
	k := newKeys(f)
	s := SigningString("POST", "/webhooks/abc", "1551767000000", "0123456789abcdef", nil)
	good, err := Sign(k.mall, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:len(good)-4] + "AAA=")
	f.Add("MAYCAQECAQE=") // DER SEQUENCE{1,1}
	f.Add("")
	f.Fuzz(func(t *testing.T, sig string) {
		if sig == good {
			return
		}
		if err := Verify(&k.mall.PublicKey, s, sig); err == nil {
			t.Fatalf("forged signature %q verified", sig)
		}
	})
}

// FuzzParseKeyPEM: arbitrary input never panics and never yields a nil key without error.
func FuzzParseKeyPEM(f *testing.F) {
	k := newKeys(f)
	der, _ := smx509.MarshalPKCS8PrivateKey(k.partner)
	pubDER, _ := smx509.MarshalPKIXPublicKey(&k.mall.PublicKey)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := ParsePrivateKeyPEM(b); (err == nil) == (k == nil) {
			t.Fatalf("private: key %v, err %v", k, err)
		}
		if k, err := ParsePublicKeyPEM(b); (err == nil) == (k == nil) {
			t.Fatalf("public: key %v, err %v", k, err)
		}
	})
}
