// Package config is aidmall's typed configuration. Values come in three layers, each
// overriding the one before: the defaults below, an optional JSON file (`--config FILE`),
// and the environment. An environment variable set to the empty string counts as unset.
//
// Every setting, with its environment variable, its key in the JSON file and its default:
//
//	DATABASE_URL                    database_url              <data dir>/aidmall.db (./data/aidmall.db)
//	AIDMALL_REPORTS_DATABASE_URL    reports_database_url      "" (reports read the primary, DATABASE_URL)
//	REDIS_URL                       redis_url                 "" (in-process nonce cache and rate limits)
//	AIDMALL_SHUTDOWN_TIMEOUT        shutdown_timeout          30s (SIGTERM: how long in-flight requests and jobs may take to finish)
//	AIDMALL_LISTEN                  listen                    127.0.0.1:8080
//	AIDMALL_PUBLIC_URL              public_url                "http://" + the address bound (127.0.0.1 for a wildcard host)
//	AIDMALL_DATA_DIR                data_dir                  ./data
//	AIDMALL_SEAL_KEY                seal_key                  "" (key file <data dir>/seal.key)
//	AIDMALL_LOG_LEVEL               log_level                 info
//	AIDMALL_<CODE>_URL              <code>.url                "" (mall not configured)
//	AIDMALL_<CODE>_APP_ID           <code>.app_id             ""
//	AIDMALL_<CODE>_PRIVATE_KEY_FILE <code>.private_key_file   ""
//	AIDMALL_<CODE>_MALL_PUBLIC_KEY_FILE <code>.mall_public_key_file ""
//	AIDMALL_<CODE>_RATE_LIMIT       <code>.rate_limit         0 (the mall's own limit, requests/s for all replicas; 0 = none)
//	AIDMALL_<CODE>_RATE_BURST       <code>.rate_burst         0 (= the rate limit)
//	AIDMALL_JOB_WORKERS             jobs.workers              4
//	AIDMALL_JOB_POLL_INTERVAL       jobs.poll_interval        1s
//	AIDMALL_JOB_RESCUE_AFTER        jobs.rescue_after         3m (a job left running by a dead replica runs again after this)
//	AIDMALL_DISPATCH_MAX_ATTEMPTS   dispatch.max_attempts     25
//	AIDMALL_DISPATCH_BACKOFF_BASE   dispatch.backoff_base     1s
//	AIDMALL_DISPATCH_BACKOFF_CAP    dispatch.backoff_cap      5m
//	AIDMALL_DISPATCH_RETRY_AFTER_MAX dispatch.retry_after_max 1h (cap on a mall's Retry-After)
//	AIDMALL_BREAKER_FAILURES        breaker.failures          5
//	AIDMALL_BREAKER_COOLDOWN        breaker.cooldown          30s
//	AIDMALL_RECONCILE_INTERVAL      reconcile_interval        1h (0 turns periodic reconciliation off)
//	AIDMALL_RATE_LIMIT              rate_limit.requests       120
//	AIDMALL_RATE_LIMIT_PERIOD       rate_limit.period         1m
//	AIDMALL_PLACED_AT_EARLIEST      placed_at.earliest        2015-01-01 (a Beijing date: the earliest back-dated placed_at)
//	AIDMALL_PLACED_AT_AHEAD         placed_at.ahead           24h (how far ahead of the clock a placed_at may be)
//	AIDMALL_RATE_LIMIT_BURST        rate_limit.burst          60
//
// Durations are Go duration strings ("30s", "5m", "1h"); counts are whole numbers (a JSON
// number or a string of digits in the file). The file is one JSON object; the dotted keys
// above are nested objects ({"ccb": {"url": "…"}}); an unknown key is an error.
//
// <CODE> is each registered mall's code (ccb, abc: AIDMALL_CCB_URL, AIDMALL_ABC_URL),
// given to Load by the caller, which knows the registered malls (package malls).
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"aidmall/orders"
)

// Config is the whole configuration of one aidmall process. Build it with Load (or
// Defaults, for tests) and check it with Validate.
type Config struct {
	// DatabaseURL selects the system of record: a file path, a `sqlite:` or `file:` URL
	// (SQLite), or a `postgres://` / `postgresql://` URL (PostgreSQL). Default
	// "<DataDir>/aidmall.db", i.e. "./data/aidmall.db". Env DATABASE_URL. Its form is
	// adapters/sqlstore's to judge and open (sqlstore.CheckURL, sqlstore.Open).
	DatabaseURL string
	// ReportsDatabaseURL, when set, is a read replica of DatabaseURL (same dialect) that
	// the reports read from; every write still goes to DatabaseURL. Default "": reports
	// read the primary. Env AIDMALL_REPORTS_DATABASE_URL.
	ReportsDatabaseURL string
	// RedisURL, when set, puts replay nonces and rate limits in Redis (redis:// or
	// rediss://); empty keeps them in process. Default "". Env REDIS_URL.
	RedisURL string
	// Listen is the HTTP listen address, host:port. Default "127.0.0.1:8080".
	// Env AIDMALL_LISTEN.
	Listen string
	// PublicURL is the base of the notify URLs given to the malls
	// (PublicURL + "/webhooks/{mall}"), an absolute http(s) URL without a trailing slash.
	// Default "": the server's own address once bound (PublicURLFor). Env AIDMALL_PUBLIC_URL.
	PublicURL string
	// DataDir holds the SQLite database (by default) and the generated seal key file.
	// Default "./data". Env AIDMALL_DATA_DIR.
	DataDir string
	// SealKey is the AES-256-GCM key that seals ID numbers at rest, standard base64 of
	// 32 bytes. Empty: the key is read from <DataDir>/seal.key, generated there on first
	// run with a warning (LoadSealKey). Default "". Env AIDMALL_SEAL_KEY.
	SealKey string
	// LogLevel is debug, info, warn or error. Default "info". Env AIDMALL_LOG_LEVEL.
	LogLevel string
	// ShutdownTimeout bounds the drain on SIGTERM: in-flight HTTP requests and running
	// jobs get this long to finish (jobs still running then are cancelled and run again
	// later). 1s–10m. Default 30s. Env AIDMALL_SHUTDOWN_TIMEOUT.
	ShutdownTimeout time.Duration

	// Malls are the malls' partner settings by mall code (AIDMALL_<CODE>_*), one entry
	// per mall Load was given. A mall with no URL is not configured (the demo uses the
	// in-process simulators).
	Malls map[orders.Mall]MallConfig

	Jobs      JobsConfig
	Dispatch  DispatchConfig
	Breaker   BreakerConfig
	RateLimit RateLimitConfig

	// ReconcileInterval is how often the reconcile job reads the malls' statements of
	// yesterday and today (Beijing days). 0 turns the periodic job off (reconcile stays
	// runnable on demand); otherwise at least 1 minute. Default 1h.
	// Env AIDMALL_RECONCILE_INTERVAL.
	ReconcileInterval time.Duration
	// ReviewAfter is how long an event may wait for its order, or an order for its mall,
	// before the review queue shows it. Default 24h. Env AIDMALL_REVIEW_AFTER.
	ReviewAfter time.Duration

	// PlacedAt bounds the placed_at of an order (orders.WithPlacedAtWindow): not before
	// Earliest (a Beijing date; default 2015-01-01, env AIDMALL_PLACED_AT_EARLIEST) nor more
	// than Ahead after the clock (default 24h, env AIDMALL_PLACED_AT_AHEAD).
	PlacedAt orders.PlacedAtWindow
}

// MallConfig is one mall's partner settings (specs/ccb-mall.md and specs/abc-mall.md,
// "Keys and identity").
type MallConfig struct {
	// URL is the mall's API base, e.g. "https://mall.example/api". Default "".
	// Env AIDMALL_<MALL>_URL.
	URL string
	// AppID is the partner id the mall gave us (CCB app_id, ABC appId). Default "".
	// Env AIDMALL_<MALL>_APP_ID.
	AppID string
	// PrivateKeyFile is the partner's own private key, PEM PKCS#8 (RSA 2048 for CCB,
	// SM2 for ABC). Default "". Env AIDMALL_<MALL>_PRIVATE_KEY_FILE.
	PrivateKeyFile string
	// MallPublicKeyFile is the mall's public key, PEM PKIX, that verifies its responses
	// and notifications. Default "". Env AIDMALL_<MALL>_MALL_PUBLIC_KEY_FILE.
	MallPublicKeyFile string
	// RateLimit is the mall's own rate limit on our calls, in requests per second, kept
	// for all replicas together (in Redis when RedisURL is set; in process otherwise and
	// while Redis is unreachable). A call over it waits without using a retry attempt.
	// Default 0: no limit (set it from the mall's contract). Env AIDMALL_<MALL>_RATE_LIMIT.
	RateLimit int
	// RateBurst is how many calls may go at once after a quiet spell. Default 0: the
	// same as RateLimit. Env AIDMALL_<MALL>_RATE_BURST.
	RateBurst int
}

// Configured reports whether the mall has settings (its URL is set).
func (m MallConfig) Configured() bool { return m.URL != "" }

// JobsConfig tunes the background job runner (package jobs).
type JobsConfig struct {
	// Workers is how many jobs run at once in this process. Default 4.
	// Env AIDMALL_JOB_WORKERS.
	Workers int
	// PollInterval is how often the runner looks for new jobs when it is not told of
	// them. Default 1s. Env AIDMALL_JOB_POLL_INTERVAL.
	PollInterval time.Duration
	// RescueAfter is how long a job may stay "running" before River takes it to have been
	// left by a replica that died (SIGKILL, lost machine) and runs it again elsewhere. A
	// job's time limit is the shorter of 1 min and this, so that a slow job is stopped
	// before it could be rescued; a reconcile that runs longer than this may be run twice,
	// which is harmless (every event applies once). Default 3m. Env AIDMALL_JOB_RESCUE_AFTER.
	RescueAfter time.Duration
}

// DispatchConfig bounds the retries of calls to the malls (dispatch and cancel jobs).
type DispatchConfig struct {
	// MaxAttempts is how many times a job runs before it is given up (discarded).
	// Default 25. Env AIDMALL_DISPATCH_MAX_ATTEMPTS.
	MaxAttempts int
	// BackoffBase is the first retry's upper bound; it doubles per attempt (full
	// jitter). Default 1s. Env AIDMALL_DISPATCH_BACKOFF_BASE.
	BackoffBase time.Duration
	// BackoffCap caps one retry's delay. Default 5m. Env AIDMALL_DISPATCH_BACKOFF_CAP.
	BackoffCap time.Duration
	// RetryAfterMax caps the wait a mall's Retry-After asks for (from any answer, signed
	// or not: an unsigned one can only delay). A retry after a Retry-After waits it plus
	// a jitter of max(10s, wait/4), so a queue told the same wait does not come back at
	// one instant. Default 1h. Env AIDMALL_DISPATCH_RETRY_AFTER_MAX.
	RetryAfterMax time.Duration
	// FailoverAfter is how long an order placed with mall "auto" may fail to reach its
	// failing mall before it moves to another that lists every line (docs/MALLS.md).
	// Default 5m; 0 turns failover off. Env AIDMALL_FAILOVER_AFTER.
	FailoverAfter time.Duration
}

// BreakerConfig is the per-mall circuit breaker.
type BreakerConfig struct {
	// Failures is how many consecutive retryable failures open the breaker. Default 5.
	// Env AIDMALL_BREAKER_FAILURES.
	Failures int
	// Cooldown is how long an open breaker refuses calls before it lets one through
	// (half-open). Default 30s. Env AIDMALL_BREAKER_COOLDOWN.
	Cooldown time.Duration
}

// RateLimitConfig limits requests per API key with a token bucket: Burst requests at
// once, refilled at Requests per Period. The defaults let a clerk's bulk upload of 60
// orders through at once and then one every half second (a refused request is told
// when, in whole seconds: Retry-After: 1).
type RateLimitConfig struct {
	// Requests is the sustained rate: tokens added per Period. Default 120.
	// Env AIDMALL_RATE_LIMIT.
	Requests int
	// Period is the time Requests tokens take to come back. Default 1m.
	// Env AIDMALL_RATE_LIMIT_PERIOD.
	Period time.Duration
	// Burst is the bucket's size: how many requests a key that was quiet may make at
	// once. Default 60. Env AIDMALL_RATE_LIMIT_BURST.
	Burst int
}

// Defaults returns the configuration with every default applied and nothing else.
func Defaults() Config {
	c := Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "./data",
		LogLevel:        "info",
		ShutdownTimeout: 30 * time.Second,
		Jobs:            JobsConfig{Workers: 4, PollInterval: time.Second, RescueAfter: 3 * time.Minute},
		Dispatch: DispatchConfig{
			MaxAttempts: 25, BackoffBase: time.Second, BackoffCap: 5 * time.Minute,
			RetryAfterMax: time.Hour,
			FailoverAfter: 5 * time.Minute,
		},
		Breaker:           BreakerConfig{Failures: 5, Cooldown: 30 * time.Second},
		RateLimit:         RateLimitConfig{Requests: 120, Period: time.Minute, Burst: 60},
		ReconcileInterval: time.Hour,
		ReviewAfter:       24 * time.Hour,
		PlacedAt:          orders.DefaultPlacedAtWindow,
	}
	c.fillDerived()
	return c
}

// fillDerived sets the defaults that depend on other settings, where still empty.
func (c *Config) fillDerived() {
	if c.DatabaseURL == "" {
		c.DatabaseURL = strings.TrimRight(c.DataDir, "/") + "/aidmall.db"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// PublicURLFor returns the base URL the malls are given for a server bound to bound (the
// host:port actually listened on, so that port 0 becomes the port chosen): PublicURL when
// configured, else "http://" + bound, with 127.0.0.1 for a wildcard host (":8080",
// "0.0.0.0:8080" is no address to give a mall).
func (c Config) PublicURLFor(bound string) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	if host, port, err := net.SplitHostPort(bound); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			return "http://" + net.JoinHostPort("127.0.0.1", port)
		}
	}
	return "http://" + bound
}

// Mall returns mall m's settings; the zero MallConfig for a mall with none.
func (c Config) Mall(m orders.Mall) MallConfig { return c.Malls[m] }

// SlogLevel returns LogLevel as a slog level (info for anything Validate would refuse).
func (c Config) SlogLevel() slog.Level {
	switch strings.ToLower(c.LogLevel) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Load builds the configuration: Defaults, then the JSON file at path file (skipped when
// file is ""), then the environment read through getenv (os.Getenv in main, a map in
// tests). malls are the codes of the registered malls, whose AIDMALL_<CODE>_* settings
// (and <code>.* keys) are read. It returns the first error reading or parsing a value
// (naming the variable or key), or else Validate's error.
func Load(getenv func(string) string, file string, malls ...orders.Mall) (Config, error) {
	if getenv == nil {
		return Config{}, errors.New("config: nil getenv")
	}
	c := Defaults()
	// Derived defaults are recomputed after the layers, so that AIDMALL_LISTEN moves the
	// default public URL and AIDMALL_DATA_DIR the default database.
	c.DatabaseURL, c.PublicURL = "", ""
	all := settings(malls)
	if file != "" {
		if err := c.applyFile(file, all); err != nil {
			return Config{}, err
		}
	}
	for _, s := range all {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if err := s.set(&c, v); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", s.env, err)
		}
	}
	c.fillDerived()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// applyFile reads a JSON object from path and applies every key it holds.
func (c *Config) applyFile(path string, all []setting) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: read %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return fmt.Errorf("config: %s: not a JSON object: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("config: %s: data after the JSON object", path)
	}
	flat := map[string]string{}
	if err := flatten("", top, flat); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	byKey := map[string]setting{}
	for _, s := range all {
		byKey[s.key] = s
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, ok := byKey[k]
		if !ok {
			return fmt.Errorf("config: %s: unknown key %q", path, k)
		}
		if err := s.set(c, flat[k]); err != nil {
			return fmt.Errorf("config: %s: %s: %w", path, k, err)
		}
	}
	return nil
}

// flatten turns nested objects into dotted keys with their scalar values as text.
func flatten(prefix string, obj map[string]any, out map[string]string) error {
	for k, v := range obj {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch t := v.(type) {
		case map[string]any:
			if err := flatten(key, t, out); err != nil {
				return err
			}
		case string:
			out[key] = t
		case json.Number:
			out[key] = t.String()
		case nil:
			// null: leave the layer below in force
		default:
			return fmt.Errorf("%s: want a string, number or object, got %T", key, v)
		}
	}
	return nil
}

// setting is one configuration value: its environment variable, its key in the JSON file
// and how text becomes the field.
type setting struct {
	env, key string
	set      func(c *Config, v string) error
}

func str(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = strings.TrimSpace(v); return nil }
}

func integer(f func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*f(c) = n
		return nil
	}
}

func duration(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s, 5m or 1h", v)
		}
		*f(c) = d
		return nil
	}
}

// beijingDate reads YYYY-MM-DD as the first instant of that day in Beijing time.
func beijingDate(f func(c *Config) *time.Time) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(v), time.FixedZone("CST", 8*3600))
		if err != nil {
			return fmt.Errorf("%q is not a date YYYY-MM-DD", v)
		}
		*f(c) = d
		return nil
	}
}

// mallSettings are mall m's settings, AIDMALL_<CODE>_* and <code>.*.
func mallSettings(m orders.Mall) []setting {
	name := string(m)
	env := MallEnvPrefix(m)
	field := func(f func(mc *MallConfig) *string) func(*Config, string) error {
		return func(c *Config, v string) error {
			if c.Malls == nil {
				c.Malls = map[orders.Mall]MallConfig{}
			}
			mc := c.Malls[m]
			*f(&mc) = strings.TrimSpace(v)
			c.Malls[m] = mc
			return nil
		}
	}
	number := func(f func(mc *MallConfig) *int) func(*Config, string) error {
		return func(c *Config, v string) error {
			if c.Malls == nil {
				c.Malls = map[orders.Mall]MallConfig{}
			}
			mc := c.Malls[m]
			if err := integer(func(*Config) *int { return f(&mc) })(c, v); err != nil {
				return err
			}
			c.Malls[m] = mc
			return nil
		}
	}
	return []setting{
		{env + "RATE_LIMIT", name + ".rate_limit", number(func(mc *MallConfig) *int { return &mc.RateLimit })},
		{env + "RATE_BURST", name + ".rate_burst", number(func(mc *MallConfig) *int { return &mc.RateBurst })},
		{env + "URL", name + ".url", field(func(mc *MallConfig) *string { return &mc.URL })},
		{env + "APP_ID", name + ".app_id", field(func(mc *MallConfig) *string { return &mc.AppID })},
		{env + "PRIVATE_KEY_FILE", name + ".private_key_file", field(func(mc *MallConfig) *string { return &mc.PrivateKeyFile })},
		{env + "MALL_PUBLIC_KEY_FILE", name + ".mall_public_key_file", field(func(mc *MallConfig) *string { return &mc.MallPublicKeyFile })},
	}
}

// MallEnvPrefix is the prefix of mall m's environment variables: "AIDMALL_CCB_".
func MallEnvPrefix(m orders.Mall) string { return "AIDMALL_" + strings.ToUpper(string(m)) + "_" }

// settings lists every value Load reads for the malls given; the package comment is its
// documentation.
func settings(malls []orders.Mall) []setting {
	s := []setting{
		{"DATABASE_URL", "database_url", str(func(c *Config) *string { return &c.DatabaseURL })},
		{"AIDMALL_REPORTS_DATABASE_URL", "reports_database_url", str(func(c *Config) *string { return &c.ReportsDatabaseURL })},
		{"REDIS_URL", "redis_url", str(func(c *Config) *string { return &c.RedisURL })},
		{"AIDMALL_LISTEN", "listen", str(func(c *Config) *string { return &c.Listen })},
		{"AIDMALL_PUBLIC_URL", "public_url", str(func(c *Config) *string { return &c.PublicURL })},
		{"AIDMALL_DATA_DIR", "data_dir", str(func(c *Config) *string { return &c.DataDir })},
		{"AIDMALL_SEAL_KEY", "seal_key", str(func(c *Config) *string { return &c.SealKey })},
		{"AIDMALL_LOG_LEVEL", "log_level", str(func(c *Config) *string { return &c.LogLevel })},
		{"AIDMALL_SHUTDOWN_TIMEOUT", "shutdown_timeout", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"AIDMALL_JOB_WORKERS", "jobs.workers", integer(func(c *Config) *int { return &c.Jobs.Workers })},
		{"AIDMALL_JOB_POLL_INTERVAL", "jobs.poll_interval", duration(func(c *Config) *time.Duration { return &c.Jobs.PollInterval })},
		{"AIDMALL_JOB_RESCUE_AFTER", "jobs.rescue_after", duration(func(c *Config) *time.Duration { return &c.Jobs.RescueAfter })},
		{"AIDMALL_DISPATCH_MAX_ATTEMPTS", "dispatch.max_attempts", integer(func(c *Config) *int { return &c.Dispatch.MaxAttempts })},
		{"AIDMALL_DISPATCH_BACKOFF_BASE", "dispatch.backoff_base", duration(func(c *Config) *time.Duration { return &c.Dispatch.BackoffBase })},
		{"AIDMALL_DISPATCH_BACKOFF_CAP", "dispatch.backoff_cap", duration(func(c *Config) *time.Duration { return &c.Dispatch.BackoffCap })},
		{"AIDMALL_DISPATCH_RETRY_AFTER_MAX", "dispatch.retry_after_max", duration(func(c *Config) *time.Duration { return &c.Dispatch.RetryAfterMax })},
		{"AIDMALL_FAILOVER_AFTER", "dispatch.failover_after", duration(func(c *Config) *time.Duration { return &c.Dispatch.FailoverAfter })},
		{"AIDMALL_BREAKER_FAILURES", "breaker.failures", integer(func(c *Config) *int { return &c.Breaker.Failures })},
		{"AIDMALL_BREAKER_COOLDOWN", "breaker.cooldown", duration(func(c *Config) *time.Duration { return &c.Breaker.Cooldown })},
		{"AIDMALL_RECONCILE_INTERVAL", "reconcile_interval", duration(func(c *Config) *time.Duration { return &c.ReconcileInterval })},
		{"AIDMALL_REVIEW_AFTER", "review_after", duration(func(c *Config) *time.Duration { return &c.ReviewAfter })},
		{"AIDMALL_RATE_LIMIT", "rate_limit.requests", integer(func(c *Config) *int { return &c.RateLimit.Requests })},
		{"AIDMALL_RATE_LIMIT_PERIOD", "rate_limit.period", duration(func(c *Config) *time.Duration { return &c.RateLimit.Period })},
		{"AIDMALL_PLACED_AT_EARLIEST", "placed_at.earliest", beijingDate(func(c *Config) *time.Time { return &c.PlacedAt.Earliest })},
		{"AIDMALL_PLACED_AT_AHEAD", "placed_at.ahead", duration(func(c *Config) *time.Duration { return &c.PlacedAt.Ahead })},
		{"AIDMALL_RATE_LIMIT_BURST", "rate_limit.burst", integer(func(c *Config) *int { return &c.RateLimit.Burst })},
	}
	for _, m := range malls {
		s = append(s, mallSettings(m)...)
	}
	return s
}
