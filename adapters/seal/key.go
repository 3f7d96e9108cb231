package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateKey returns the master key. When envValue is not empty it is the key, as
// base64 text (standard or URL alphabet, padded or not). Otherwise the key is read from
// the file at path (base64 text, surrounding white space ignored). When that file does
// not exist, 32 random bytes are generated and written there as base64 with mode 0600,
// creating its directory with mode 0700, and created is true so that the caller warns
// (a lost key file makes every sealed value unreadable). Errors never contain key
// material: a key that is not valid base64 or not 32 bytes, no envValue and no path, or
// a file that cannot be read or written.
func LoadOrCreateKey(envValue, path string) (key []byte, created bool, err error) {
	if strings.TrimSpace(envValue) != "" {
		k, err := decodeKey(envValue)
		if err != nil {
			return nil, false, fmt.Errorf("seal: key from environment: %w", err)
		}
		return k, false, nil
	}
	if path == "" {
		return nil, false, errors.New("seal: no key: set the key in the environment or give a key file path")
	}
	k, err := readKeyFile(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k = make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, false, fmt.Errorf("seal: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("seal: create key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use its key.
		k, err := readKeyFile(path)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("seal: create key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, false, fmt.Errorf("seal: write key file: %w", werr)
	}
	return k, true, nil
}

// readKeyFile reads a base64 key file; a missing file is an error matching fs.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("seal: read key file: %w", err)
	}
	k, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return k, nil
}

// decodeKey decodes base64 text into a KeySize-byte key.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w, got %d bytes", ErrKeySize, len(k))
		}
		return k, nil
	}
	return nil, errors.New("key is not base64 text")
}
