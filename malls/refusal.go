package malls

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Why a notification is refused. A driver's Parse errors wrap one of these (its own
// sentinels wrap them: ccb.ErrBadSignature wraps ErrBadSignature), the webhook wraps
// ErrTooLarge and ErrMalformed for what it checks itself, and a driver's Nack answers each
// with the mall's own failure acknowledgement and RefusalStatus. Anything else — the
// nonce memory unreachable, the database down — is aidmall's failure, not the sender's,
// and the only case answered with a 5xx (the mall then sends the notification again).
var (
	// ErrTooLarge: the body is over the webhook's limit (413). The webhook stops reading
	// at the limit and one byte.
	ErrTooLarge = errors.New("notification body too large")
	// ErrMalformed: a header the spec requires is missing, repeated or not in its form,
	// or the body is not the mall's shape (not UTF-8, NUL bytes, not its envelope) (400).
	ErrMalformed = errors.New("malformed notification")
	// ErrBadSignature: the signature (or the partner id it is made for) does not verify
	// (401).
	ErrBadSignature = errors.New("bad signature")
	// ErrStale: the timestamp is out of the spec's window, or the nonce was seen before
	// (a replay) (401).
	ErrStale = errors.New("stale or replayed notification")
)

// Refusal reasons, as metric labels and in the security log.
const (
	ReasonTooLarge     = "too_large"
	ReasonMalformed    = "malformed"
	ReasonBadSignature = "bad_signature"
	ReasonStale        = "stale"
)

// Refusal classifies err: the reason label and the HTTP status of the refusal it wraps
// (ErrTooLarge 413, ErrMalformed 400, ErrBadSignature 401, ErrStale 401), or ok false
// when err is no refusal (aidmall failed: the answer is a 5xx).
func Refusal(err error) (reason string, status int, ok bool) {
	switch {
	case err == nil:
		return "", 0, false
	case errors.Is(err, ErrTooLarge):
		return ReasonTooLarge, http.StatusRequestEntityTooLarge, true
	case errors.Is(err, ErrBadSignature):
		return ReasonBadSignature, http.StatusUnauthorized, true
	case errors.Is(err, ErrStale):
		return ReasonStale, http.StatusUnauthorized, true
	case errors.Is(err, ErrMalformed):
		return ReasonMalformed, http.StatusBadRequest, true
	}
	return "", 0, false
}

// RefusalStatus is Refusal's status, 500 for an error that is no refusal (a driver's
// Nack calls it).
func RefusalStatus(err error) int {
	if _, status, ok := Refusal(err); ok {
		return status
	}
	return http.StatusInternalServerError
}

// CheckText reports why body cannot be a notification's text, whatever the mall: it must
// be UTF-8 and hold no NUL byte (PostgreSQL cannot store one in text, and no spec allows
// one). It returns nil or an error wrapping ErrMalformed.
func CheckText(body []byte) error {
	switch {
	case !utf8.Valid(body):
		return fmt.Errorf("%w: body is not UTF-8", ErrMalformed)
	case bytes.IndexByte(body, 0) >= 0:
		return fmt.Errorf("%w: body holds a NUL byte", ErrMalformed)
	}
	return nil
}

// Snippet is s quoted for an error message or a log line, cut to 40 bytes (a refusal's
// reason names what was wrong without carrying what an attacker sent).
func Snippet(s string) string {
	const most = 40
	if len(s) > most {
		cut := most
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// MaxIDLen is the most bytes of an identifier a mall sends (event id, order numbers,
// waybill): the specs' longest is 64; a longer one cannot be indexed safely.
const MaxIDLen = 128

// BadID returns why s cannot be an identifier a mall sends — longer than MaxIDLen bytes,
// or holding a control character (C0, DEL or C1) — or "" when it can be.
func BadID(s string) string {
	if len(s) > MaxIDLen {
		return fmt.Sprintf("longer than %d bytes", MaxIDLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "holds a control character"
		}
	}
	return ""
}
