package abc

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"aidmall/malls"
)

// Header names carried on every ABC request, response and notification (abc-mall.md,
// "Signing (both directions)").
const (
	HeaderAppID     = "X-Abc-App-Id"
	HeaderTimestamp = "X-Abc-Timestamp" // Unix milliseconds
	HeaderNonce     = "X-Abc-Nonce"     // 16–32 characters
	HeaderSignature = "X-Abc-Signature" // std base64 of an ASN.1 DER SM2 signature
)

// MethodResponse is the method line of a signed response (abc-mall.md: "Responses are
// signed the same way with the method line RESPONSE and the request's path").
const MethodResponse = "RESPONSE"

// signerID is the SM2 signer id the spec fixes (abc-mall.md "Keys and identity"): the
// GM/T 0009 default "1234567812345678".
const signerID = "1234567812345678"

// ErrBadSignature is returned when a signature is missing, not base64, not DER, or does not
// verify under the expected key.
// It wraps malls.ErrBadSignature, so that the webhook refuses it as such (401).
var ErrBadSignature = fmt.Errorf("abc: %w", malls.ErrBadSignature)

// SigningString builds the string both sides sign (abc-mall.md "Signing"): the HTTP method
// (or "RESPONSE"), the path with its query string if any, the X-Abc-Timestamp value, the
// X-Abc-Nonce value and the lowercase hex SM3 digest (GM/T 0004) of the raw body bytes,
// each followed by "\n". An empty or nil body hashes as the empty string.
func SigningString(method, pathWithQuery, timestamp, nonce string, body []byte) string {
	sum := sm3.Sum(body)
	var b strings.Builder
	for _, s := range []string{method, pathWithQuery, timestamp, nonce, hex.EncodeToString(sum[:])} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}

// Sign signs signingString with key: SM2 (GM/T 0003, GB/T 32918.2) with the default signer
// id 1234567812345678, ASN.1 DER, returned as standard base64 with padding. It returns an
// error when key is nil or the signer fails.
func Sign(key *sm2.PrivateKey, signingString string) (string, error) {
	if key == nil {
		return "", errors.New("abc: sign: nil private key")
	}
	sig, err := sm2.SignASN1(rand.Reader, key, []byte(signingString), sm2.NewSM2SignerOption(true, []byte(signerID)))
	if err != nil {
		return "", fmt.Errorf("abc: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Verify checks sig (standard base64 of an ASN.1 DER SM2 signature) over signingString
// under key with the default signer id. It returns nil when the signature verifies and
// ErrBadSignature otherwise (including a nil key or undecodable sig).
func Verify(key *ecdsa.PublicKey, signingString, sig string) error {
	if key == nil || key.Curve == nil || key.X == nil || key.Y == nil {
		return fmt.Errorf("%w: no public key", ErrBadSignature)
	}
	if sig == "" {
		return fmt.Errorf("%w: missing", ErrBadSignature)
	}
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: not base64", ErrBadSignature)
	}
	if !sm2.IsSM2PublicKey(key) {
		return fmt.Errorf("%w: not an SM2 public key", ErrBadSignature)
	}
	if !sm2.VerifyASN1WithSM2(key, []byte(signerID), []byte(signingString), der) {
		return ErrBadSignature
	}
	return nil
}

// ParsePrivateKeyPEM parses an SM2 private key from a PEM "PRIVATE KEY" block in PKCS#8
// (abc-mall.md "Keys and identity"). It returns an error when there is no PEM block, the
// DER does not parse, or the key is not on the SM2 curve.
func ParsePrivateKeyPEM(b []byte) (*sm2.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("abc: private key: no PEM block")
	}
	k, err := smx509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("abc: private key: %w", err)
	}
	key, ok := k.(*sm2.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("abc: private key: %T is not an SM2 key", k)
	}
	return key, nil
}

// ParsePublicKeyPEM parses an SM2 public key from a PEM "PUBLIC KEY" block in PKIX
// (SubjectPublicKeyInfo) form. It returns an error when there is no PEM block, the DER does
// not parse, or the key is not on the SM2 curve.
func ParsePublicKeyPEM(b []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("abc: public key: no PEM block")
	}
	k, err := smx509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("abc: public key: %w", err)
	}
	key, ok := k.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(key) {
		return nil, fmt.Errorf("abc: public key: %T is not an SM2 key", k)
	}
	return key, nil
}
