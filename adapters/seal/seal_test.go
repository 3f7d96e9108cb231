package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// here is the place the tests' values are sealed for.
var here = Place("households", "id_sealed", "06300101001")

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newSealer(t *testing.T, b byte) *Sealer {
	t.Helper()
	s, err := New(testKey(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	s := newSealer(t, 1)
	t.Run("round_trip_returns_the_plain_text", func(t *testing.T) {
		t.Parallel()
		for _, plain := range []string{"610630197302274514", "刘忠刚", "", "0911-4119289"} {
			sealed, err := s.Seal(plain, here)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(sealed, []byte(plain)) && plain != "" {
				t.Errorf("sealed value contains the plain text %q", plain)
			}
			if len(sealed) != Overhead+len(plain) || sealed[0] != s.KeyID() {
				t.Errorf("sealed %q: %d bytes with id %d, want %d bytes with id %d", plain, len(sealed), sealed[0], Overhead+len(plain), s.KeyID())
			}
			got, err := s.Open(sealed, here)
			if err != nil || got != plain {
				t.Errorf("Open(Seal(%q)) = %q, %v", plain, got, err)
			}
		}
	})
	t.Run("tampered_value_fails", func(t *testing.T) {
		t.Parallel()
		sealed, err := s.Seal("610630197302274514", here)
		if err != nil {
			t.Fatal(err)
		}
		for i := range sealed {
			bad := bytes.Clone(sealed)
			bad[i] ^= 0x01
			if got, err := s.Open(bad, here); err == nil {
				t.Errorf("flipping byte %d opened to %q", i, got)
			}
		}
		if _, err := s.Open(sealed[:len(sealed)-1], here); !errors.Is(err, ErrOpen) {
			t.Errorf("truncated tag: %v, want ErrOpen", err)
		}
		if _, err := s.Open(sealed[:Overhead-1], here); !errors.Is(err, ErrMalformed) {
			t.Errorf("too short: %v, want ErrMalformed", err)
		}
	})
	t.Run("two_seals_differ_but_hash_equal", func(t *testing.T) {
		t.Parallel()
		a, _ := s.Seal("13800000000", here)
		b, _ := s.Seal("13800000000", here)
		if bytes.Equal(a, b) {
			t.Error("two seals of one value are equal: nonce not random")
		}
		if s.Hash("13800000000") != s.Hash("13800000000") {
			t.Error("hash is not deterministic")
		}
		if s.Hash("13800000000") == s.Hash("13800000001") {
			t.Error("different values hash equal")
		}
		if h := s.Hash("x"); len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Errorf("hash %q is not 64 lowercase hex digits", h)
		}
	})
	t.Run("wrong_key_fails", func(t *testing.T) {
		t.Parallel()
		sealed, _ := s.Seal("610630197302274514", here)
		other := newSealer(t, 2)
		if _, err := other.Open(sealed, here); err == nil {
			t.Error("another key opened the value")
		}
		// Same id byte forced: authentication must still fail.
		forged := bytes.Clone(sealed)
		forged[0] = other.KeyID()
		if _, err := other.Open(forged, here); !errors.Is(err, ErrOpen) {
			t.Errorf("forged id: %v, want ErrOpen", err)
		}
		if other.Hash("a") == s.Hash("a") {
			t.Error("hash does not depend on the key")
		}
	})
	t.Run("previous_key_opens_old_values_after_rotation", func(t *testing.T) {
		t.Parallel()
		old := newSealer(t, 3)
		sealed, _ := old.Seal("老值", here)
		rotated, err := New(testKey(4), testKey(3))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := rotated.Open(sealed, here); err != nil || got != "老值" {
			t.Errorf("Open old value after rotation = %q, %v", got, err)
		}
		fresh, _ := rotated.Seal("新值", here)
		if fresh[0] != newSealer(t, 4).KeyID() {
			t.Error("rotated sealer does not seal under the new key")
		}
		if _, err := old.Open(fresh, here); err == nil {
			t.Error("old key opened a value sealed under the new one")
		}
	})
}

func TestSealIsBoundToItsPlace(t *testing.T) {
	t.Parallel()
	s := newSealer(t, 1)
	sealed, err := s.Seal("610630197302274514", Place("households", "id_sealed", "06300101001"))
	if err != nil {
		t.Fatal(err)
	}
	for _, elsewhere := range []string{
		Place("households", "id_sealed", "06300101002"),   // another row
		Place("households", "name_sealed", "06300101001"), // another column
		Place("people", "id_sealed", "06300101001"),       // another table
		Place("households", "id_sealed", "0630010100"),    // a prefix of the row
	} {
		if got, err := s.Open(sealed, elsewhere); !errors.Is(err, ErrOpen) {
			t.Errorf("moved to %s: opened to %q, %v; want ErrOpen", elsewhere, got, err)
		}
	}
	if got, err := s.OpenLegacy(sealed); err == nil {
		t.Errorf("a bound value opened as a legacy one, to %q", got)
	}
	if _, err := s.Seal("x", ""); !errors.Is(err, ErrNoPlace) {
		t.Errorf("Seal without a place: %v, want ErrNoPlace", err)
	}
	if _, err := s.Open(sealed, ""); !errors.Is(err, ErrNoPlace) {
		t.Errorf("Open without a place: %v, want ErrNoPlace", err)
	}
}

func TestLegacyValuesOpenUntilResealed(t *testing.T) {
	t.Parallel()
	old := newSealer(t, 5)
	legacy := old.sealLegacy("刘忠刚")
	if got, err := old.OpenLegacy(legacy); err != nil || got != "刘忠刚" {
		t.Fatalf("OpenLegacy = %q, %v", got, err)
	}
	// A rotation's sealer (new key, old one kept to read) still opens it.
	rotated, err := New(testKey(6), testKey(5))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.OpenLegacy(legacy); err != nil || got != "刘忠刚" {
		t.Errorf("OpenLegacy after rotation = %q, %v", got, err)
	}
	if got, err := rotated.Open(legacy, here); err == nil {
		t.Errorf("a legacy value opened as one bound to %s, to %q", here, got)
	}
	if _, err := newSealer(t, 6).OpenLegacy(legacy); !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrOpen) {
		t.Errorf("the new key alone opened a legacy value of the old one: %v", err)
	}
}

func TestKeyName(t *testing.T) {
	t.Parallel()
	a, b := newSealer(t, 1), newSealer(t, 2)
	if a.KeyName() != newSealer(t, 1).KeyName() {
		t.Error("one key, two names")
	}
	if a.KeyName() == b.KeyName() {
		t.Error("two keys, one name")
	}
	if n := a.KeyName(); len(n) != 16 || strings.Trim(n, "0123456789abcdef") != "" {
		t.Errorf("key name %q is not 16 lowercase hex digits", n)
	}
	rotated, err := New(testKey(2), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KeyName() != b.KeyName() {
		t.Error("a rotated sealer is not named by its current key")
	}
}

func TestNewRejectsBadKeys(t *testing.T) {
	t.Parallel()
	for name, k := range map[string][]byte{"nil": nil, "short_16_bytes": testKey(1)[:16], "long_33_bytes": append(testKey(1), 0)} {
		if _, err := New(k); !errors.Is(err, ErrKeySize) {
			t.Errorf("%s: %v, want ErrKeySize", name, err)
		}
	}
	if _, err := New(testKey(1), testKey(2)[:5]); !errors.Is(err, ErrKeySize) {
		t.Errorf("bad previous key: %v, want ErrKeySize", err)
	}
}

// FuzzOpen: only a genuine seal opens. A value sealed under the key opens to its plain
// text; the same value with any byte changed, cut short or extended does not open, nor does
// one sealed under another key, nor any bytes the fuzzer makes up (its corpus holds no
// genuine seal: the seals are made, with random nonces, inside each run).
func FuzzOpen(f *testing.F) {
	s, err := New(testKey(1))
	if err != nil {
		f.Fatal(err)
	}
	other, err := New(testKey(2))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("610630197302274514", uint(0), byte(1), []byte("610630197302274514"))
	f.Add("", uint(13), byte(0x80), []byte{})
	f.Add("张三", uint(40), byte(0xff), bytes.Repeat([]byte{s.KeyID()}, Overhead))
	f.Fuzz(func(t *testing.T, plain string, pos uint, flip byte, made []byte) {
		sealed, err := s.Seal(plain, here)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if got, err := s.Open(sealed, here); err != nil || got != plain {
			t.Fatalf("a genuine seal of %q opens to %q, %v", plain, got, err)
		}
		at := int(pos % uint(len(sealed)))
		if flip != 0 {
			changed := bytes.Clone(sealed)
			changed[at] ^= flip
			if got, err := s.Open(changed, here); err == nil {
				t.Fatalf("byte %d changed (^%#x): opened to %q", at, flip, got)
			}
		}
		if got, err := s.Open(sealed[:at], here); err == nil {
			t.Fatalf("cut to %d of %d bytes: opened to %q", at, len(sealed), got)
		}
		if got, err := s.Open(append(bytes.Clone(sealed), flip), here); err == nil {
			t.Fatalf("extended by one byte: opened to %q", got)
		}
		foreign, err := other.Seal(plain, here)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Open(foreign, here); err == nil {
			t.Fatalf("sealed under another key: opened to %q", got)
		}
		if got, err := s.Open(made, here); err == nil {
			t.Fatalf("made-up bytes %x opened to %q", made, got)
		}
		if got, err := s.Open(sealed, here+plain+"x"); err == nil {
			t.Fatalf("opened for another place, to %q", got)
		}
		if got, err := s.OpenLegacy(sealed); err == nil {
			t.Fatalf("a bound value opened as a legacy one, to %q", got)
		}
	})
}
