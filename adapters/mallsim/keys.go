package mallsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Keys holds a key set for both malls and the partner (the service): RSA 2048 for CCB
// (ccb-mall.md "Keys and identity") and SM2 for ABC (abc-mall.md "Keys and identity",
// gmsm v0.15.5). The malls sign with CCBMall/ABCMall and verify the partner with the
// public halves of CCBPartner/ABCPartner; the service uses the partner private keys and
// the malls' public keys.
type Keys struct {
	CCBMall, CCBPartner *rsa.PrivateKey
	ABCMall, ABCPartner *sm2.PrivateKey
}

// NewKeys generates a fresh key set from crypto/rand. It returns the generator's error,
// if any (it takes a moment: two RSA 2048 keys).
func NewKeys() (*Keys, error) {
	var k Keys
	var err error
	if k.CCBMall, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, fmt.Errorf("mallsim: ccb mall key: %w", err)
	}
	if k.CCBPartner, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, fmt.Errorf("mallsim: ccb partner key: %w", err)
	}
	if k.ABCMall, err = sm2.GenerateKey(rand.Reader); err != nil {
		return nil, fmt.Errorf("mallsim: abc mall key: %w", err)
	}
	if k.ABCPartner, err = sm2.GenerateKey(rand.Reader); err != nil {
		return nil, fmt.Errorf("mallsim: abc partner key: %w", err)
	}
	return &k, nil
}

// validate reports a missing key.
func (k *Keys) validate() error {
	switch {
	case k == nil:
		return errors.New("mallsim: nil Keys")
	case k.CCBMall == nil || k.CCBPartner == nil:
		return errors.New("mallsim: Keys: missing a CCB key")
	case k.ABCMall == nil || k.ABCPartner == nil:
		return errors.New("mallsim: Keys: missing an ABC key")
	}
	return nil
}

// PEM file names, as the reference sandbox writes them (mallsandbox README, "Key files").
const (
	FileCCBMallPrivate    = "ccb-mall-private.pem"
	FileCCBMallPublic     = "ccb-mall-public.pem"
	FileCCBPartnerPrivate = "ccb-partner-private.pem"
	FileCCBPartnerPublic  = "ccb-partner-public.pem"
	FileABCMallPrivate    = "abc-mall-private.pem"
	FileABCMallPublic     = "abc-mall-public.pem"
	FileABCPartnerPrivate = "abc-partner-private.pem"
	FileABCPartnerPublic  = "abc-partner-public.pem"
)

// WritePEM writes the eight PEM files (FileCCBMallPrivate … FileABCPartnerPublic) into
// dir, creating dir (mode 0700) if needed and overwriting existing files: private keys as
// PKCS#8 "PRIVATE KEY" blocks with mode 0600, public keys as PKIX "PUBLIC KEY" blocks with
// mode 0644 — the layout config loads for the reference sandbox too. It returns the first
// marshalling or file-system error.
func (k *Keys) WritePEM(dir string) error {
	if err := k.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mallsim: keys: %w", err)
	}
	type file struct {
		name    string
		private bool
		key     any
	}
	files := []file{
		{FileCCBMallPrivate, true, k.CCBMall},
		{FileCCBMallPublic, false, &k.CCBMall.PublicKey},
		{FileCCBPartnerPrivate, true, k.CCBPartner},
		{FileCCBPartnerPublic, false, &k.CCBPartner.PublicKey},
		{FileABCMallPrivate, true, k.ABCMall},
		{FileABCMallPublic, false, &k.ABCMall.PublicKey},
		{FileABCPartnerPrivate, true, k.ABCPartner},
		{FileABCPartnerPublic, false, &k.ABCPartner.PublicKey},
	}
	for _, f := range files {
		var der []byte
		var err error
		blockType, mode := "PUBLIC KEY", os.FileMode(0o644)
		switch key := f.key.(type) {
		case *rsa.PrivateKey:
			der, err = x509.MarshalPKCS8PrivateKey(key)
		case *rsa.PublicKey:
			der, err = x509.MarshalPKIXPublicKey(key)
		case *sm2.PrivateKey:
			der, err = smx509.MarshalPKCS8PrivateKey(key)
		default: // the SM2 public key (*ecdsa.PublicKey)
			der, err = smx509.MarshalPKIXPublicKey(key)
		}
		if err != nil {
			return fmt.Errorf("mallsim: keys: %s: %w", f.name, err)
		}
		if f.private {
			blockType, mode = "PRIVATE KEY", 0o600
		}
		data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
		if err := writeFile(filepath.Join(dir, f.name), data, mode); err != nil {
			return fmt.Errorf("mallsim: keys: %w", err)
		}
	}
	return nil
}

// writeFile writes data to path with exactly mode, also when path exists with another mode:
// the mode is set before the first byte is written (os.WriteFile keeps an existing file's
// mode, which could leave a private key readable).
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadPEM reads a key set from the four private key files WritePEM writes into dir
// (FileCCBMallPrivate, FileCCBPartnerPrivate, FileABCMallPrivate, FileABCPartnerPrivate),
// so that a simulator run as its own process signs with the keys its partner was given.
func ReadPEM(dir string) (*Keys, error) {
	read := func(name string) (any, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("mallsim: keys: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("mallsim: keys: %s: no PRIVATE KEY block", name)
		}
		k, err := smx509.ParsePKCS8PrivateKey(blk.Bytes) // RSA and SM2 alike
		if err != nil {
			return nil, fmt.Errorf("mallsim: keys: %s: %w", name, err)
		}
		return k, nil
	}
	var k Keys
	for _, f := range []struct {
		name string
		rsa  **rsa.PrivateKey
		sm2  **sm2.PrivateKey
	}{
		{FileCCBMallPrivate, &k.CCBMall, nil}, {FileCCBPartnerPrivate, &k.CCBPartner, nil},
		{FileABCMallPrivate, nil, &k.ABCMall}, {FileABCPartnerPrivate, nil, &k.ABCPartner},
	} {
		key, err := read(f.name)
		if err != nil {
			return nil, err
		}
		var ok bool
		if f.rsa != nil {
			*f.rsa, ok = key.(*rsa.PrivateKey)
		} else {
			*f.sm2, ok = key.(*sm2.PrivateKey)
		}
		if !ok {
			return nil, fmt.Errorf("mallsim: keys: %s: a %T, not the mall's kind of key", f.name, key)
		}
	}
	return &k, nil
}
