// Package ccb is the adapter for the China Construction Bank mall (善融商务) partner
// interface, exactly as fixed by shared/specs/ccb-mall.md (version 1): the signed gateway
// client (create, query, cancel, statements), the notification verifier, the
// acknowledgement bodies and the GB18030 daily statement parser. Both directions use the
// spec's "Signing" rules: sorted non-empty parameters signed with RSA-SHA256 ("RSA2").
package ccb

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"aidmall/malls"
)

// TimeLayout is the spec's timestamp form, `yyyy-MM-dd HH:mm:ss`, always Beijing time
// without an offset (ccb-mall.md, "Requests" and "Notifications").
const TimeLayout = "2006-01-02 15:04:05"

// SignType is the only sign_type of the spec: RSA PKCS#1 v1.5 over SHA-256.
const SignType = "RSA2"

// ErrBadSignature is returned when a signature is missing, is not base64, or does not
// verify under the expected key (and, for notifications, when app_id is unknown). It wraps
// malls.ErrBadSignature, so that the webhook refuses it as such (401).
var ErrBadSignature = fmt.Errorf("ccb: %w", malls.ErrBadSignature)

// SigningString returns the spec's string to sign (ccb-mall.md, "Signing"): every parameter
// except those named in exclude whose value is not empty, sorted by name in byte order,
// joined as name=value with & (values raw, not URL-encoded).
func SigningString(params map[string]string, exclude ...string) string {
	names := make([]string, 0, len(params))
outer:
	for k, v := range params {
		if v == "" {
			continue
		}
		for _, x := range exclude {
			if k == x {
				continue outer
			}
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// Sign signs the UTF-8 bytes of signingString with RSA PKCS#1 v1.5 over SHA-256 and returns
// the signature in standard base64 (ccb-mall.md, "Signing" step 4). It fails only when key
// is nil or the RSA operation fails.
func Sign(key *rsa.PrivateKey, signingString string) (string, error) {
	if key == nil {
		return "", errors.New("ccb: sign: nil private key")
	}
	sum := sha256.Sum256([]byte(signingString))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("ccb: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Verify checks sign over signingString with RSA PKCS#1 v1.5 / SHA-256. sign must be
// standard base64 as the spec says and nothing else: the standard alphabet, padded, with
// no line breaks or spaces and no stray bits (base64.StdEncoding.Strict, which alone would
// skip \r and \n). It returns ErrBadSignature (wrapped with the reason) when sign is empty,
// not standard base64 or does not verify, or when key is nil.
func Verify(key *rsa.PublicKey, signingString, sign string) error {
	if key == nil {
		return fmt.Errorf("%w: nil public key", ErrBadSignature)
	}
	if sign == "" {
		return fmt.Errorf("%w: missing sign", ErrBadSignature)
	}
	if strings.ContainsAny(sign, "\r\n") {
		return fmt.Errorf("%w: sign is not standard base64 (line break)", ErrBadSignature)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sign)
	if err != nil {
		return fmt.Errorf("%w: sign is not standard base64", ErrBadSignature)
	}
	sum := sha256.Sum256([]byte(signingString))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("%w: does not verify", ErrBadSignature)
	}
	return nil
}

// ParsePrivateKeyPEM reads an RSA private key from a PEM "PRIVATE KEY" block (PKCS#8), as
// the spec's "Keys and identity" requires. Other block types or key algorithms are errors.
func ParsePrivateKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("ccb: private key: no PEM block")
	}
	if blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("ccb: private key: PEM block %q, want PRIVATE KEY (PKCS#8)", blk.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ccb: private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("ccb: private key: %T is not RSA", k)
	}
	return rk, nil
}

// ParsePublicKeyPEM reads an RSA public key from a PEM "PUBLIC KEY" block (PKIX), as the
// spec's "Keys and identity" requires. Other block types or key algorithms are errors.
func ParsePublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("ccb: public key: no PEM block")
	}
	if blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("ccb: public key: PEM block %q, want PUBLIC KEY (PKIX)", blk.Type)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ccb: public key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("ccb: public key: %T is not RSA", k)
	}
	return rk, nil
}

// LoadKeys reads the partner's private key (PKCS#8 PEM) and the mall's public key (PKIX
// PEM) from files. It returns the file's read error or the parse error, naming the file.
func LoadKeys(partnerPrivateKeyFile, mallPublicKeyFile string) (*rsa.PrivateKey, *rsa.PublicKey, error) {
	pb, err := os.ReadFile(partnerPrivateKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("ccb: read partner key: %w", err)
	}
	priv, err := ParsePrivateKeyPEM(pb)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", partnerPrivateKeyFile, err)
	}
	mb, err := os.ReadFile(mallPublicKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("ccb: read mall key: %w", err)
	}
	pub, err := ParsePublicKeyPEM(mb)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", mallPublicKeyFile, err)
	}
	return priv, pub, nil
}
