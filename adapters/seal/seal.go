// Package seal seals personal data of the registry (ID numbers, names, phones) for the
// system of record: AES-256-GCM encryption with a random nonce per value, and a keyed
// HMAC-SHA256 hash for lookups and change detection. Both keys are derived from one
// 32-byte master key with HKDF-SHA256 (RFC 5869, crypto/hkdf). It implements
// households.Sealer.
//
// A value is sealed to where it is stored: its associated data names the table, column
// and row (e.g. "households/id_sealed/06300101001"), so a sealed value copied to another
// row or column does not open. Values sealed before that binding (associated data: the
// key id byte alone) open with OpenLegacy until `aidmall keys rotate` seals them again.
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
	infoName  = "aidmall/seal/key-name/v1"
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
	// ErrOpen is returned by Open when authentication fails: the value was altered, sealed
	// under another key with the same id, or sealed for another place (table, column, row).
	ErrOpen = errors.New("seal: cannot open: altered, sealed under another key or for another place")
	// ErrNoPlace is returned by Seal and Open for an empty place: every value is bound to one.
	ErrNoPlace = errors.New("seal: no place to bind the value to")
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
	name    string
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
	name, err := hkdf.Key(sha256.New, masterKey, nil, infoName, 8)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key name: %w", err)
	}
	s.name = hex.EncodeToString(name)
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

// KeyName names the current key (16 hex digits, derived from it; not secret): the store
// records it on each row so a rotation knows which rows are still under an older key.
func (s *Sealer) KeyName() string { return s.name }

// Place is the associated data that binds a sealed value to where it is stored: table,
// column and row key, e.g. Place("households", "id_sealed", "06300101001").
func Place(table, column, row string) string { return table + "/" + column + "/" + row }

// Seal encrypts plain with AES-256-GCM under the current key and a fresh random 12-byte
// nonce, bound to place (see Place): the result is key id (1 byte) || nonce (12) ||
// ciphertext || tag (16), and two seals of one value differ. The key id byte and place
// are authenticated, place is not stored. It fails with ErrNoPlace, or if the system's
// random source fails.
func (s *Sealer) Seal(plain, place string) ([]byte, error) {
	if place == "" {
		return nil, ErrNoPlace
	}
	out := make([]byte, 1+nonceSize, Overhead+len(plain))
	out[0] = s.current.id
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.current.aead.Seal(out, out[1:], []byte(plain), bound(out[0], place)), nil
}

// bound is the associated data of a value bound to place: the key id byte then the place.
// A legacy value's is the key id byte alone; a place is never empty, so the two differ.
func bound(id byte, place string) []byte { return append([]byte{id}, place...) }

// Open decrypts a value made by Seal for place, under the current or a previous key. It
// fails with ErrNoPlace, ErrMalformed (too short), ErrUnknownKey (no key with its id) or
// ErrOpen (altered, another key with the same id, or sealed for another place: a value
// copied from another row or column, or a legacy value).
func (s *Sealer) Open(sealed []byte, place string) (string, error) {
	if place == "" {
		return "", ErrNoPlace
	}
	return s.open(sealed, func(id byte) []byte { return bound(id, place) })
}

// OpenLegacy decrypts a value sealed before values were bound to their place (its
// associated data is the key id byte alone). Only rows the store records as sealed that
// way are opened with it, and `aidmall keys rotate` seals them again, bound. A value
// sealed by Seal never opens with it.
func (s *Sealer) OpenLegacy(sealed []byte) (string, error) {
	return s.open(sealed, func(id byte) []byte { return []byte{id} })
}

func (s *Sealer) open(sealed []byte, ad func(byte) []byte) (string, error) {
	if len(sealed) < Overhead {
		return "", ErrMalformed
	}
	found := false
	for _, k := range s.keys {
		if k.id != sealed[0] {
			continue
		}
		found = true
		plain, err := k.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], ad(sealed[0]))
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
