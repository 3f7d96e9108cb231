// Package seal seals personal data of the registry (ID numbers, names, phones) for the
// system of record: AES-256-GCM encryption with a random nonce per value, and a keyed
// HMAC-SHA256 hash for lookups and change detection. Both keys are derived from one
// 32-byte master key with HKDF-SHA256 (RFC 5869, crypto/hkdf). It implements
// households.Sealer.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the size of a master key in bytes.
const KeySize = 32

// The HKDF info strings that separate the derived keys.
const (
	infoSeal  = "aidmall/seal/aes-256-gcm/v1"
	infoHash  = "aidmall/seal/hmac-sha256/v1"
	infoKeyID = "aidmall/seal/key-id/v1"
)

const (
	nonceSize = 12
	tagSize   = 16
	// Overhead is the number of bytes a sealed value adds to its plain text: the key id
	// byte, the nonce and the GCM tag.
	Overhead = 1 + nonceSize + tagSize
)

var (
	// ErrKeySize is returned for a master key that is not KeySize bytes.
	ErrKeySize = errors.New("seal: master key must be 32 bytes")
	// ErrMalformed is returned by Open for a value too short to be sealed.
	ErrMalformed = errors.New("seal: malformed sealed value")
	// ErrUnknownKey is returned by Open for a value sealed under a key the Sealer does not hold.
	ErrUnknownKey = errors.New("seal: sealed under an unknown key")
	// ErrOpen is returned by Open when authentication fails: the value was altered or
	// sealed under another key with the same id.
	ErrOpen = errors.New("seal: cannot open: altered or sealed under another key")
)

// key is one master key's AEAD and id.
type key struct {
	id   byte
	aead cipher.AEAD
}

// Sealer seals with its current key and opens values sealed under the current or any
// previous key. It is safe for concurrent use.
type Sealer struct {
	current key
	keys    []key // current first, then previous keys
	hashKey []byte
}

// New returns a Sealer whose current key is masterKey (KeySize bytes); previous keys, if
// any, are only used to open values sealed before a rotation. Hash always uses the
// current key: after a rotation, stored hashes must be recomputed (open, hash again).
// It fails with ErrKeySize.
func New(masterKey []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for i, mk := range append([][]byte{masterKey}, previous...) {
		k, err := newKey(mk)
		if err != nil {
			if i > 0 {
				return nil, fmt.Errorf("previous key %d: %w", i, err)
			}
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	s.current = s.keys[0]
	hk, err := hkdf.Key(sha256.New, masterKey, nil, infoHash, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive hash key: %w", err)
	}
	s.hashKey = hk
	return s, nil
}

func newKey(mk []byte) (key, error) {
	if len(mk) != KeySize {
		return key{}, ErrKeySize
	}
	ek, err := hkdf.Key(sha256.New, mk, nil, infoSeal, 32)
	if err != nil {
		return key{}, fmt.Errorf("seal: derive encryption key: %w", err)
	}
	id, err := hkdf.Key(sha256.New, mk, nil, infoKeyID, 1)
	if err != nil {
		return key{}, fmt.Errorf("seal: derive key id: %w", err)
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return key{}, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("seal: %w", err)
	}
	return key{id: id[0], aead: aead}, nil
}

// KeyID returns the id byte that prefixes the values this Sealer seals.
func (s *Sealer) KeyID() byte { return s.current.id }

// Seal encrypts plain with AES-256-GCM under the current key and a fresh random 12-byte
// nonce: the result is key id (1 byte) || nonce (12) || ciphertext || tag (16), and two
// seals of one value differ. The key id byte is authenticated too. It fails only if the
// system's random source fails.
func (s *Sealer) Seal(plain string) ([]byte, error) {
	out := make([]byte, 1+nonceSize, Overhead+len(plain))
	out[0] = s.current.id
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.current.aead.Seal(out, out[1:], []byte(plain), out[:1]), nil
}

// Open decrypts a value made by Seal under the current or a previous key. It fails with
// ErrMalformed (too short), ErrUnknownKey (no key with its id) or ErrOpen (altered, or
// another key with the same id).
func (s *Sealer) Open(sealed []byte) (string, error) {
	if len(sealed) < Overhead {
		return "", ErrMalformed
	}
	found := false
	for _, k := range s.keys {
		if k.id != sealed[0] {
			continue
		}
		found = true
		plain, err := k.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], sealed[:1])
		if err == nil {
			return string(plain), nil
		}
	}
	if !found {
		return "", ErrUnknownKey
	}
	return "", ErrOpen
}

// Hash returns HMAC-SHA256 of plain under a key derived from the current master key, in
// lowercase hex (64 characters). Equal values hash equal, so it serves lookups (by ID
// number, phone) and change detection; without the key it reveals nothing.
func (s *Sealer) Hash(plain string) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(plain))
	return hex.EncodeToString(m.Sum(nil))
}
