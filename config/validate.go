package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"aidmall/orders"
)

// SealKeySize is the length of the seal key in bytes (AES-256).
const SealKeySize = 32

// Validate checks every setting and returns all problems at once (errors.Join), each
// naming its environment variable: an empty DATABASE_URL, a REDIS_URL
// that is not redis:// or rediss://, a listen address that is not host:port, a public URL
// that is not an absolute http(s) URL, a seal key that is not base64 of 32 bytes, an
// unknown log level, a mall configured in part (a URL without app id or key files, or the
// reverse) or with a URL that is not http(s), and counts or durations out of range.
// Validate reads no file: a missing key file shows when the adapter loads it.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, f string, a ...any) { errs = append(errs, fmt.Errorf(name+": "+f, a...)) }

	// The database URL's form is adapters/sqlstore's to judge (sqlstore.CheckURL; the
	// commands check it right after Load).
	if strings.TrimSpace(c.DatabaseURL) == "" {
		bad("DATABASE_URL", "required")
	}

	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("REDIS_URL", "want redis://[user:password@]host:port[/db] or rediss://…")
		}
	}

	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("AIDMALL_LISTEN", "%q is not host:port", c.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("AIDMALL_LISTEN", "port %q is not a number from 0 to 65535", port)
	} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		bad("AIDMALL_LISTEN", "host %q is not an IP address or localhost", host)
	}

	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("AIDMALL_PUBLIC_URL", "%q is not an absolute http or https URL", c.PublicURL)
		} else if u.RawQuery != "" || u.Fragment != "" {
			bad("AIDMALL_PUBLIC_URL", "must not carry a query or fragment: the malls' notify URLs are built on it")
		}
	}

	if c.PlacedAt.Earliest.IsZero() || c.PlacedAt.Earliest.Year() < 2000 {
		bad("AIDMALL_PLACED_AT_EARLIEST", "must be a date from 2000-01-01 on")
	}
	if c.PlacedAt.Ahead < 0 || c.PlacedAt.Ahead > 7*24*time.Hour {
		bad("AIDMALL_PLACED_AT_AHEAD", "must be from 0 to 168h")
	}

	if strings.TrimSpace(c.DataDir) == "" {
		bad("AIDMALL_DATA_DIR", "required")
	}
	if c.SealKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.SealKey); err != nil || len(k) != SealKeySize {
			bad("AIDMALL_SEAL_KEY", "want standard base64 of %d random bytes (e.g. `head -c %d /dev/urandom | base64`)", SealKeySize, SealKeySize)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("AIDMALL_LOG_LEVEL", "%q is not debug, info, warn or error", c.LogLevel)
	}

	codes := make([]string, 0, len(c.Malls))
	for m := range c.Malls {
		codes = append(codes, string(m))
	}
	sort.Strings(codes)
	for _, m := range codes {
		errs = append(errs, c.Malls[orders.Mall(m)].validate(MallEnvPrefix(orders.Mall(m)))...)
	}

	intRange := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(name, "%d is out of range %d–%d", v, lo, hi)
		}
	}
	durRange := func(name string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			bad(name, "%s is out of range %s–%s", v, lo, hi)
		}
	}
	intRange("AIDMALL_JOB_WORKERS", c.Jobs.Workers, 1, 1000)
	durRange("AIDMALL_SHUTDOWN_TIMEOUT", c.ShutdownTimeout, time.Second, 10*time.Minute)
	durRange("AIDMALL_JOB_POLL_INTERVAL", c.Jobs.PollInterval, 10*time.Millisecond, time.Minute)
	durRange("AIDMALL_JOB_RESCUE_AFTER", c.Jobs.RescueAfter, 5*time.Second, 24*time.Hour)
	intRange("AIDMALL_DISPATCH_MAX_ATTEMPTS", c.Dispatch.MaxAttempts, 1, 1000)
	durRange("AIDMALL_DISPATCH_BACKOFF_BASE", c.Dispatch.BackoffBase, time.Millisecond, time.Hour)
	durRange("AIDMALL_DISPATCH_BACKOFF_CAP", c.Dispatch.BackoffCap, time.Millisecond, 24*time.Hour)
	if c.Dispatch.BackoffCap < c.Dispatch.BackoffBase {
		bad("AIDMALL_DISPATCH_BACKOFF_CAP", "%s is below the base %s", c.Dispatch.BackoffCap, c.Dispatch.BackoffBase)
	}
	durRange("AIDMALL_DISPATCH_RETRY_AFTER_MAX", c.Dispatch.RetryAfterMax, time.Second, 24*time.Hour)
	if c.Dispatch.FailoverAfter != 0 {
		durRange("AIDMALL_FAILOVER_AFTER", c.Dispatch.FailoverAfter, time.Second, 24*time.Hour)
	}
	intRange("AIDMALL_BREAKER_FAILURES", c.Breaker.Failures, 1, 1000)
	durRange("AIDMALL_BREAKER_COOLDOWN", c.Breaker.Cooldown, time.Millisecond, time.Hour)
	if c.ReconcileInterval != 0 {
		durRange("AIDMALL_RECONCILE_INTERVAL", c.ReconcileInterval, time.Minute, 7*24*time.Hour)
	}
	intRange("AIDMALL_RATE_LIMIT", c.RateLimit.Requests, 1, 1_000_000)
	durRange("AIDMALL_RATE_LIMIT_PERIOD", c.RateLimit.Period, time.Second, 24*time.Hour)
	intRange("AIDMALL_RATE_LIMIT_BURST", c.RateLimit.Burst, 1, 1_000_000)

	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %w", errors.Join(errs...))
}

// validate checks what holds for every mall's settings: none without a URL, and the URL
// an absolute http(s) one. Which of the others a mall needs (an app id, key files) is its
// driver's to say when it is opened (malls.RequireSettings), since a mall may sign with
// something other than key files.
func (m MallConfig) validate(prefix string) []error {
	fields := []struct{ name, v string }{
		{"APP_ID", m.AppID}, {"PRIVATE_KEY_FILE", m.PrivateKeyFile}, {"MALL_PUBLIC_KEY_FILE", m.MallPublicKeyFile},
	}
	var set []string
	for _, f := range fields {
		if f.v != "" {
			set = append(set, prefix+f.name)
		}
	}
	var errs []error
	if m.RateLimit < 0 || m.RateLimit > 100000 {
		errs = append(errs, fmt.Errorf("%sRATE_LIMIT: %d is out of range 0–100000 requests per second", prefix, m.RateLimit))
	}
	if m.RateBurst < 0 || m.RateBurst > 100000 {
		errs = append(errs, fmt.Errorf("%sRATE_BURST: %d is out of range 0–100000", prefix, m.RateBurst))
	}
	if m.URL == "" && len(set) > 0 {
		errs = append(errs, fmt.Errorf("%sURL: required once %s is set", prefix, strings.Join(set, ", ")))
	}
	if m.URL != "" {
		if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%sURL: %q is not an absolute http or https URL", prefix, m.URL))
		}
	}
	return errs
}
