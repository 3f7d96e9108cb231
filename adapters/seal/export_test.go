package seal

import "crypto/rand"

// sealLegacy seals plain as Seal did before values were bound to their place: the
// associated data is the key id byte alone. Only tests make such values now.
func (s *Sealer) sealLegacy(plain string) []byte {
	out := make([]byte, 1+nonceSize, Overhead+len(plain))
	out[0] = s.current.id
	if _, err := rand.Read(out[1:]); err != nil {
		panic(err)
	}
	return s.current.aead.Seal(out, out[1:], []byte(plain), out[:1])
}
