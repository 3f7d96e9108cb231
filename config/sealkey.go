package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// SealKeyFile returns where the generated seal key lives: <DataDir>/seal.key.
func (c Config) SealKeyFile() string { return filepath.Join(c.DataDir, "seal.key") }

// LoadSealKey returns the 32-byte key that seals ID numbers (AES-256-GCM). With SealKey
// set it is that key. Otherwise it is read from SealKeyFile (standard base64, one line);
// when the file does not exist a new key is drawn from random (crypto/rand.Reader when
// nil), written there with mode 0600 (the data directory is created 0700 if missing) and a
// warning is logged: losing that file makes every sealed ID number unreadable. Two
// processes starting at once end up with the same key (the file is linked into place only
// if absent). Errors: a malformed key in the setting or the file, or a file system error.
func (c Config) LoadSealKey(log *slog.Logger, random io.Reader) ([]byte, error) {
	if c.SealKey != "" {
		return decodeSealKey(c.SealKey, "AIDMALL_SEAL_KEY")
	}
	if log == nil {
		return nil, errors.New("config: nil logger")
	}
	if random == nil {
		random = rand.Reader
	}
	path := c.SealKeyFile()
	if b, err := os.ReadFile(path); err == nil {
		return decodeSealKey(string(b), path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config: read seal key: %w", err)
	}

	key := make([]byte, SealKeySize)
	if _, err := io.ReadFull(random, key); err != nil {
		return nil, fmt.Errorf("config: draw seal key: %w", err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("config: create data dir: %w", err)
	}
	tmp, err := os.CreateTemp(c.DataDir, ".seal.key-*")
	if err != nil {
		return nil, fmt.Errorf("config: write seal key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("config: write seal key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process got there first: use its key
			b, rerr := os.ReadFile(path)
			if rerr != nil {
				return nil, fmt.Errorf("config: read seal key: %w", rerr)
			}
			return decodeSealKey(string(b), path)
		}
		return nil, fmt.Errorf("config: write seal key: %w", err)
	}
	log.Warn("generated a new seal key; back it up: ID numbers sealed with it cannot be read without it",
		slog.String("file", path))
	return key, nil
}

func decodeSealKey(s, source string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != SealKeySize {
		return nil, fmt.Errorf("config: %s: not standard base64 of %d bytes", source, SealKeySize)
	}
	return k, nil
}
