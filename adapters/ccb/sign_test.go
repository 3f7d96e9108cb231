package ccb_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aidmall/adapters/ccb"
)

func TestSigningString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		params  map[string]string
		exclude []string
		want    string
	}{
		{"sorted_by_name_in_byte_order",
			map[string]string{"nonce": "n", "app_id": "1", "biz_content": "{}", "Zeta": "z"}, nil,
			"Zeta=z&app_id=1&biz_content={}&nonce=n"}, // 'Z' (0x5A) sorts before 'a' (0x61)
		{"empty_values_are_left_out",
			map[string]string{"a": "1", "line_no": "", "b": "2"}, nil, "a=1&b=2"},
		{"excluded_names_are_left_out",
			map[string]string{"a": "1", "sign": "xx", "sign_type": "RSA2"}, []string{"sign", "sign_type"}, "a=1"},
		{"values_are_raw_not_url_encoded",
			map[string]string{"biz_content": `{"buyer_name":"集团总部机关工会","a":"x&y=z"}`, "notify_url": "http://h/p?q=1"}, nil,
			`biz_content={"buyer_name":"集团总部机关工会","a":"x&y=z"}&notify_url=http://h/p?q=1`},
		{"nothing_to_sign", map[string]string{"sign": "x"}, []string{"sign"}, ""},
		{"prefix_names_sort_shorter_first",
			map[string]string{"out_order_no_x": "2", "out_order_no": "1"}, nil, "out_order_no=1&out_order_no_x=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ccb.SigningString(tt.params, tt.exclude...); got != tt.want {
				t.Errorf("SigningString = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	ks := testKeys(t)
	const msg = "app_id=2019031200000001&biz_content={\"out_order_no\":\"AM1\"}&method=mall.order.query"

	sig, err := ccb.Sign(ks.partner, msg)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("signature_verifies_with_an_independent_rsa2_check", func(t *testing.T) {
		if !rsaVerify(&ks.partner.PublicKey, msg, sig) {
			t.Fatal("Sign output does not verify as RSA PKCS#1 v1.5 SHA-256 base64")
		}
	})
	t.Run("independent_signature_verifies", func(t *testing.T) {
		if err := ccb.Verify(&ks.mall.PublicKey, msg, rsaSign(t, ks.mall, msg)); err != nil {
			t.Fatal(err)
		}
	})
	// The same signature bytes in the URL-safe alphabet, without padding, and broken over
	// lines: each decodes to the genuine signature under some lenient base64 decoder, so
	// only a verifier that insists on standard base64 refuses them.
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	urlSafe := base64.URLEncoding.EncodeToString(raw)
	if urlSafe == sig {
		t.Fatal("test signature has no + or /: pick another message")
	}
	bad := []struct {
		name string
		key  *rsa.PublicKey
		msg  string
		sign string
	}{
		{"other_key_is_refused", &ks.stranger.PublicKey, msg, sig},
		{"changed_text_is_refused", &ks.partner.PublicKey, msg + "x", sig},
		{"missing_sign_is_refused", &ks.partner.PublicKey, msg, ""},
		{"non_base64_sign_is_refused", &ks.partner.PublicKey, msg, "%%%"},
		{"url_safe_base64_is_not_standard", &ks.partner.PublicKey, msg, urlSafe},
		{"unpadded_base64_is_not_standard", &ks.partner.PublicKey, msg, strings.TrimRight(sig, "=")},
		{"line_broken_base64_is_not_standard", &ks.partner.PublicKey, msg, sig[:64] + "\r\n" + sig[64:]},
		{"surrounding_space_is_not_standard", &ks.partner.PublicKey, msg, " " + sig + "\n"},
		{"nil_key_is_refused", nil, msg, sig},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := ccb.Verify(tt.key, tt.msg, tt.sign); !errors.Is(err, ccb.ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
	t.Run("nil_private_key_is_an_error", func(t *testing.T) {
		if _, err := ccb.Sign(nil, msg); err == nil {
			t.Fatal("Sign(nil) succeeded")
		}
	})
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeyFiles(t *testing.T) {
	t.Parallel()
	ks := testKeys(t)
	dir := t.TempDir()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ks.partner)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&ks.mall.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	privFile := writePEM(t, dir, "partner.pem", "PRIVATE KEY", pkcs8)
	pubFile := writePEM(t, dir, "mall.pem", "PUBLIC KEY", pkix)
	pkcs1File := writePEM(t, dir, "pkcs1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(ks.partner))
	pkcs1PubFile := writePEM(t, dir, "pkcs1pub.pem", "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&ks.mall.PublicKey))

	t.Run("pkcs8_and_pkix_files_load", func(t *testing.T) {
		priv, pub, err := ccb.LoadKeys(privFile, pubFile)
		if err != nil {
			t.Fatal(err)
		}
		if !priv.Equal(ks.partner) || !pub.Equal(&ks.mall.PublicKey) {
			t.Fatal("loaded keys differ from the written ones")
		}
	})
	t.Run("pkcs1_private_key_is_refused", func(t *testing.T) {
		if _, _, err := ccb.LoadKeys(pkcs1File, pubFile); err == nil {
			t.Fatal("PKCS#1 private key accepted; the spec says PKCS#8")
		}
	})
	t.Run("pkcs1_public_key_is_refused", func(t *testing.T) {
		if _, _, err := ccb.LoadKeys(privFile, pkcs1PubFile); err == nil {
			t.Fatal("PKCS#1 public key accepted; the spec says PKIX")
		}
	})
	t.Run("swapped_files_are_refused", func(t *testing.T) {
		if _, _, err := ccb.LoadKeys(pubFile, privFile); err == nil {
			t.Fatal("swapped key files accepted")
		}
	})
	t.Run("missing_file_is_an_error", func(t *testing.T) {
		if _, _, err := ccb.LoadKeys(filepath.Join(dir, "nope.pem"), pubFile); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want ErrNotExist", err)
		}
	})
	t.Run("not_pem_is_refused", func(t *testing.T) {
		if _, err := ccb.ParsePrivateKeyPEM([]byte("hello")); err == nil {
			t.Fatal("accepted non-PEM private key")
		}
		if _, err := ccb.ParsePublicKeyPEM([]byte("hello")); err == nil {
			t.Fatal("accepted non-PEM public key")
		}
	})
	t.Run("loaded_keys_sign_and_verify_across", func(t *testing.T) {
		priv, err := ccb.ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
		if err != nil {
			t.Fatal(err)
		}
		pubDER, _ := x509.MarshalPKIXPublicKey(&ks.partner.PublicKey)
		pub, err := ccb.ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
		if err != nil {
			t.Fatal(err)
		}
		s, err := ccb.Sign(priv, "x=1")
		if err != nil {
			t.Fatal(err)
		}
		if err := ccb.Verify(pub, "x=1", s); err != nil {
			t.Fatal(err)
		}
	})
}
