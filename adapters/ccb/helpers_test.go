package ccb_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"aidmall/bizday"
)

// testKeySet holds the keys of one test run: the mall's pair, the partner's pair and a
// stranger's key that must never verify.
type testKeySet struct {
	mall, partner, stranger *rsa.PrivateKey
}

// keysOnce loads the test-only keys in testdata (RSA 2048, PKCS#8, generated for these
// tests and used nowhere else): loading is instant where generating three keys per fuzz
// worker took seconds.
var keysOnce = sync.OnceValues(func() (testKeySet, error) {
	var ks testKeySet
	for name, k := range map[string]**rsa.PrivateKey{"mall": &ks.mall, "partner": &ks.partner, "stranger": &ks.stranger} {
		b, err := os.ReadFile(filepath.Join("testdata", "test-"+name+"-private.pem"))
		if err != nil {
			return ks, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return ks, fmt.Errorf("testdata %s key: no PEM block", name)
		}
		key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return ks, err
		}
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			return ks, fmt.Errorf("testdata %s key is %T", name, key)
		}
		*k = rk
	}
	return ks, nil
})

func testKeys(t testing.TB) testKeySet {
	t.Helper()
	ks, err := keysOnce()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// specSigningString is the spec's signing string ("Signing" steps 1–3), written here
// independently of the package so that tests do not grade the code with itself.
func specSigningString(params map[string]string, skip ...string) string {
	var pairs []string
	for k, v := range params {
		if v == "" || k == "sign" {
			continue
		}
		skipped := false
		for _, s := range skip {
			skipped = skipped || s == k
		}
		if !skipped {
			pairs = append(pairs, k+"="+v)
		}
	}
	sort.Slice(pairs, func(i, j int) bool { // by name, byte order
		return strings.SplitN(pairs[i], "=", 2)[0] < strings.SplitN(pairs[j], "=", 2)[0]
	})
	return strings.Join(pairs, "&")
}

// rsaSign is RSA PKCS#1 v1.5 over SHA-256, standard base64 ("Signing" step 4).
func rsaSign(t testing.TB, key *rsa.PrivateKey, s string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(s))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func rsaVerify(key *rsa.PublicKey, s, sign string) bool {
	sig, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(s))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) == nil
}

// signedNotification returns the form body of a notification signed as the mall does:
// over every non-empty parameter except sign and sign_type.
func signedNotification(t testing.TB, key *rsa.PrivateKey, params map[string]string) []byte {
	t.Helper()
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	form.Set("sign", rsaSign(t, key, specSigningString(params, "sign_type")))
	return []byte(form.Encode())
}

// beijing builds a Beijing wall-clock time.
func beijing(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, bizday.Beijing)
}
