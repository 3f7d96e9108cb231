package malls

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"aidmall/orders"
)

// MaxRetryAfter is the longest wait ParseRetryAfter reports: a larger value (a mall's
// slip, or an answer not signed by the mall) is cut to it. The jobs cap it again at their
// configured maximum (jobs.Config.RetryAfterMax, 1 h by default); this bound only keeps
// the arithmetic sane.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads an HTTP Retry-After value (RFC 9110 §10.2.3) as the wait it asks
// for, at now: delay-seconds ("120") or an HTTP-date ("Sun, 06 Dec 2026 18:00:00 GMT",
// and the two obsolete date forms http.ParseTime reads). ok is false for an empty or
// unreadable value, a negative number, or a date not after now (nothing to wait for). A
// wait beyond MaxRetryAfter is reported as MaxRetryAfter.
//
// Every mall driver reads the header of every answer it gets through here — signed or
// not, any status: an unsigned Retry-After can only make aidmall wait longer (never call
// sooner), so honouring it is safe, and the jobs cap it (docs/MALLS.md, "Retries").
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(MaxRetryAfter/time.Second) {
			// Only overflow fails on digits: a huge number is a long wait.
			return MaxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return 0, false
	}
	return min(t.Sub(now), MaxRetryAfter), true
}

// RetryAfterHeader is ParseRetryAfter of h's Retry-After (0 when absent or unreadable).
func RetryAfterHeader(h http.Header, now time.Time) time.Duration {
	d, _ := ParseRetryAfter(h.Get("Retry-After"), now)
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// WithRetryAfter gives err the mall's Retry-After d when err is a retryable
// *orders.MallError without one (a driver calls it on every error of a call that got an
// answer, whatever its status or signature); anything else is returned as it is.
func WithRetryAfter(err error, d time.Duration) error {
	var me *orders.MallError
	if d > 0 && errors.As(err, &me) && me.Retryable && me.RetryAfter == 0 {
		me.RetryAfter = d
	}
	return err
}
