package people

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password policy: long rather than complicated (NIST SP 800-63B): at least MinPassword
// characters, at most MaxPassword, not the login, not one character repeated.
const (
	MinPassword = 10
	MaxPassword = 128
)

// PasswordProblem returns why password may not be used by login (zh-CN), or "".
func PasswordProblem(password, login string) string {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return "密码含有无效字符"
	case n < MinPassword:
		return fmt.Sprintf("密码至少 %d 个字符", MinPassword)
	case n > MaxPassword:
		return fmt.Sprintf("密码最多 %d 个字符", MaxPassword)
	case login != "" && strings.Contains(strings.ToLower(password), login):
		return "密码不能包含登录名"
	case strings.Count(password, password[:1]) == len(password):
		return "密码不能是同一个字符重复"
	}
	return ""
}

// The argon2id parameters: OWASP's first recommendation (19 MiB, 2 passes, 1 lane).
// They are written into every hash, so raising them later leaves old hashes checkable.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns password's argon2id hash in PHC form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (base64 without padding).
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errBadHash: a stored hash that is not an argon2id PHC string.
var errBadHash = errors.New("people: stored password hash is not argon2id")

// CheckPassword reports whether password matches hash (from HashPassword), in constant
// time. A malformed hash is an error, never a match.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when a login is unknown, so that an unknown login takes as
// long to refuse as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("aidmall dummy password for timing")
	return h
})

// passwordAlphabet has no look-alikes (no 0/O, 1/l/I): a generated password is read off a
// screen and typed once.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// GeneratePassword returns a new random password of four groups of four characters
// (16 × 5 bits = 80 bits), e.g. "k7pm-2xqa-9dfw-h3tn".
func GeneratePassword() (string, error) {
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	var b strings.Builder
	for i, c := range buf {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(passwordAlphabet[int(c)%len(passwordAlphabet)]) // 256 % 32 == 0: unbiased
	}
	return b.String(), nil
}
