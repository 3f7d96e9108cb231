package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"aidmall/orders"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aidmall.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_precedence(t *testing.T) {
	t.Parallel()
	file := `{"listen":"127.0.0.1:9000","log_level":"debug",
	  "breaker":{"failures":7,"cooldown":"45s"},
	  "ccb":{"url":"https://ccb.example/api","app_id":"2019031200000001",
	         "private_key_file":"/keys/ccb.pem","mall_public_key_file":"/keys/ccb-mall.pem"}}`
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"defaults_apply_without_file_or_env", "", nil, func(t *testing.T, c Config) {
			want := Defaults()
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v, want defaults %+v", c, want)
			}
			if c.DatabaseURL != "./data/aidmall.db" || c.Listen != "127.0.0.1:8080" || c.PublicURLFor(c.Listen) != "http://127.0.0.1:8080" {
				t.Errorf("documented defaults differ: db %q listen %q public %q", c.DatabaseURL, c.Listen, c.PublicURLFor(c.Listen))
			}
			if c.Dispatch.MaxAttempts != 25 || c.Breaker.Failures != 5 || c.ReconcileInterval != time.Hour {
				t.Errorf("documented defaults differ: %+v", c)
			}
		}},
		{"file_overrides_defaults", file, nil, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" || c.LogLevel != "debug" || c.Breaker.Failures != 7 || c.Breaker.Cooldown != 45*time.Second {
				t.Errorf("file values not applied: %+v", c)
			}
			if c.Mall("ccb").AppID != "2019031200000001" || c.Mall("ccb").MallPublicKeyFile != "/keys/ccb-mall.pem" {
				t.Errorf("nested mall keys not applied: %+v", c.Malls)
			}
			if c.Jobs.Workers != 4 {
				t.Errorf("a key absent from the file lost its default: workers %d", c.Jobs.Workers)
			}
		}},
		{"env_overrides_file", file, map[string]string{"AIDMALL_LISTEN": "127.0.0.1:7000", "AIDMALL_BREAKER_FAILURES": "3", "AIDMALL_CCB_APP_ID": "X1"}, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:7000" || c.Breaker.Failures != 3 || c.Mall("ccb").AppID != "X1" {
				t.Errorf("env did not win: %+v", c)
			}
			if c.Breaker.Cooldown != 45*time.Second || c.Mall("ccb").URL != "https://ccb.example/api" {
				t.Errorf("file values not overridden by env were lost: %+v", c)
			}
		}},
		{"empty_env_var_counts_as_unset", file, map[string]string{"AIDMALL_LISTEN": ""}, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" {
				t.Errorf("listen %q, want the file's", c.Listen)
			}
		}},
		{"database_default_follows_data_dir", "", map[string]string{"AIDMALL_DATA_DIR": "/var/lib/aidmall/"}, func(t *testing.T, c Config) {
			if c.DatabaseURL != "/var/lib/aidmall/aidmall.db" {
				t.Errorf("database %q", c.DatabaseURL)
			}
		}},
		{"explicit_public_url_loses_trailing_slash", "", map[string]string{"AIDMALL_PUBLIC_URL": "https://aid.example.cn/"}, func(t *testing.T, c Config) {
			if got := c.PublicURLFor("127.0.0.1:8080"); got != "https://aid.example.cn" {
				t.Errorf("public url %q", got)
			}
		}},
		{"every_variable_is_read", "", map[string]string{
			"DATABASE_URL": "postgres://u@db:5432/aid", "REDIS_URL": "redis://127.0.0.1:6379/1",
			"AIDMALL_SEAL_KEY":    base64.StdEncoding.EncodeToString(make([]byte, 32)),
			"AIDMALL_JOB_WORKERS": "9", "AIDMALL_JOB_POLL_INTERVAL": "250ms", "AIDMALL_SHUTDOWN_TIMEOUT": "45s",
			"AIDMALL_DISPATCH_MAX_ATTEMPTS": "10", "AIDMALL_DISPATCH_BACKOFF_BASE": "2s", "AIDMALL_DISPATCH_BACKOFF_CAP": "1m",
			"AIDMALL_DISPATCH_RETRY_AFTER_MAX": "30m", "AIDMALL_FAILOVER_AFTER": "90s",
			"AIDMALL_BREAKER_COOLDOWN": "5s", "AIDMALL_RECONCILE_INTERVAL": "0",
			"AIDMALL_RATE_LIMIT": "10", "AIDMALL_RATE_LIMIT_PERIOD": "1s", "AIDMALL_RATE_LIMIT_BURST": "25",
			"AIDMALL_ABC_URL": "http://127.0.0.1:9100", "AIDMALL_ABC_APP_ID": "abc1",
			"AIDMALL_ABC_PRIVATE_KEY_FILE": "p.pem", "AIDMALL_ABC_MALL_PUBLIC_KEY_FILE": "m.pem",
			"AIDMALL_ABC_RATE_LIMIT": "20", "AIDMALL_ABC_RATE_BURST": "40",
		}, func(t *testing.T, c Config) {
			want := Defaults()
			want.DatabaseURL, want.RedisURL = "postgres://u@db:5432/aid", "redis://127.0.0.1:6379/1"
			want.SealKey = base64.StdEncoding.EncodeToString(make([]byte, 32))
			want.Jobs = JobsConfig{Workers: 9, PollInterval: 250 * time.Millisecond, RescueAfter: 3 * time.Minute}
			want.ShutdownTimeout = 45 * time.Second
			want.Dispatch = DispatchConfig{MaxAttempts: 10, BackoffBase: 2 * time.Second, BackoffCap: time.Minute, RetryAfterMax: 30 * time.Minute, FailoverAfter: 90 * time.Second}
			want.Breaker.Cooldown = 5 * time.Second
			want.ReconcileInterval = 0
			want.RateLimit = RateLimitConfig{Requests: 10, Period: time.Second, Burst: 25}
			want.Malls = map[orders.Mall]MallConfig{"abc": {URL: "http://127.0.0.1:9100", AppID: "abc1", PrivateKeyFile: "p.pem", MallPublicKeyFile: "m.pem",
				RateLimit: 20, RateBurst: 40}}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := Load(env(tt.env), path, testMalls...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoad_errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"unknown_file_key_is_refused", `{"listen":"127.0.0.1:1","lsiten":"x"}`, nil, []string{`unknown key "lsiten"`}},
		{"unknown_nested_key_is_refused", `{"ccb":{"appid":"x"}}`, nil, []string{`unknown key "ccb.appid"`}},
		{"file_that_is_not_an_object_is_refused", `["listen"]`, nil, []string{"not a JSON object"}},
		{"bad_duration_in_file_names_the_key", `{"breaker":{"cooldown":"soon"}}`, nil, []string{"breaker.cooldown", "not a duration"}},
		{"array_value_in_file_is_refused", `{"listen":["a"]}`, nil, []string{"listen", "want a string"}},
		{"bad_number_in_env_names_the_variable", "", map[string]string{"AIDMALL_JOB_WORKERS": "four"}, []string{"AIDMALL_JOB_WORKERS", "not a whole number"}},
		{"load_validates", "", map[string]string{"AIDMALL_LOG_LEVEL": "loud"}, []string{"AIDMALL_LOG_LEVEL"}},
		{"invalid_file_value_is_caught_even_if_env_is_fine", `{"rate_limit":{"requests":0}}`, nil, []string{"AIDMALL_RATE_LIMIT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := Load(env(tt.env), path, testMalls...)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("missing_file_is_an_error", func(t *testing.T) {
		t.Parallel()
		if _, err := Load(env(nil), filepath.Join(t.TempDir(), "nope.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err %v, want not-exist", err)
		}
	})
	t.Run("nil_getenv_is_refused", func(t *testing.T) {
		t.Parallel()
		if _, err := Load(nil, ""); err == nil {
			t.Error("Load(nil) succeeded")
		}
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	mall := MallConfig{URL: "https://m.example", AppID: "1", PrivateKeyFile: "k", MallPublicKeyFile: "p"}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // nil: valid
	}{
		{"defaults_are_valid", func(c *Config) {}, nil},
		{"fully_configured_malls_are_valid", func(c *Config) { c.Malls = map[orders.Mall]MallConfig{"ccb": mall, "abc": mall} }, nil},
		{"postgres_url_is_valid", func(c *Config) { c.DatabaseURL = "postgresql://u:p@db:5432/aid?sslmode=disable" }, nil},
		{"wildcard_listen_is_valid", func(c *Config) { c.Listen = ":8080" }, nil},
		{"zero_reconcile_interval_turns_it_off", func(c *Config) { c.ReconcileInterval = 0 }, nil},
		{"empty_database_is_required", func(c *Config) { c.DatabaseURL = "" }, []string{"DATABASE_URL: required"}},
		{"http_redis_url_is_refused", func(c *Config) { c.RedisURL = "http://127.0.0.1:6379" }, []string{"REDIS_URL"}},
		{"shutdown_timeout_out_of_range", func(c *Config) { c.ShutdownTimeout = 0 }, []string{"AIDMALL_SHUTDOWN_TIMEOUT"}},
		{"listen_without_port_is_refused", func(c *Config) { c.Listen = "127.0.0.1" }, []string{"AIDMALL_LISTEN"}},
		{"listen_with_hostname_is_refused", func(c *Config) { c.Listen = "example.com:80" }, []string{"AIDMALL_LISTEN"}},
		{"relative_public_url_is_refused", func(c *Config) { c.PublicURL = "/aid" }, []string{"AIDMALL_PUBLIC_URL"}},
		{"public_url_with_query_is_refused", func(c *Config) { c.PublicURL = "https://a.example?x=1" }, []string{"AIDMALL_PUBLIC_URL", "query"}},
		{"short_seal_key_is_refused", func(c *Config) { c.SealKey = base64.StdEncoding.EncodeToString(make([]byte, 16)) }, []string{"AIDMALL_SEAL_KEY"}},
		{"unknown_log_level_is_refused", func(c *Config) { c.LogLevel = "trace" }, []string{"AIDMALL_LOG_LEVEL"}},
		// Which other settings a mall needs is its driver's to say (malls.RequireSettings).
		{"mall_with_url_only_is_left_to_its_driver", func(c *Config) { c.Malls = map[orders.Mall]MallConfig{"xyz": {URL: "https://xyz.example"}} }, nil},
		{"mall_with_keys_but_no_url_is_refused", func(c *Config) {
			c.Malls = map[orders.Mall]MallConfig{"ccb": {AppID: "1", PrivateKeyFile: "k", MallPublicKeyFile: "p"}}
		}, []string{"AIDMALL_CCB_URL"}},
		{"mall_url_must_be_http", func(c *Config) { m := mall; m.URL = "ftp://m.example"; c.Malls = map[orders.Mall]MallConfig{"ccb": m} }, []string{"AIDMALL_CCB_URL"}},
		{"zero_workers_is_refused", func(c *Config) { c.Jobs.Workers = 0 }, []string{"AIDMALL_JOB_WORKERS"}},
		{"zero_attempts_is_refused", func(c *Config) { c.Dispatch.MaxAttempts = 0 }, []string{"AIDMALL_DISPATCH_MAX_ATTEMPTS"}},
		{"cap_below_base_is_refused", func(c *Config) { c.Dispatch.BackoffCap = 500 * time.Millisecond }, []string{"AIDMALL_DISPATCH_BACKOFF_CAP", "below the base"}},
		{"failover_every_millisecond_is_refused", func(c *Config) { c.Dispatch.FailoverAfter = time.Millisecond }, []string{"AIDMALL_FAILOVER_AFTER"}},
		{"zero_breaker_failures_is_refused", func(c *Config) { c.Breaker.Failures = 0 }, []string{"AIDMALL_BREAKER_FAILURES"}},
		{"zero_retry_after_cap_is_refused", func(c *Config) { c.Dispatch.RetryAfterMax = 0 }, []string{"AIDMALL_DISPATCH_RETRY_AFTER_MAX"}},
		{"negative_mall_rate_limit_is_refused", func(c *Config) { m := mall; m.RateLimit = -1; c.Malls = map[orders.Mall]MallConfig{"ccb": m} }, []string{"AIDMALL_CCB_RATE_LIMIT"}},
		{"reconcile_every_second_is_refused", func(c *Config) { c.ReconcileInterval = time.Second }, []string{"AIDMALL_RECONCILE_INTERVAL"}},
		{"zero_rate_period_is_refused", func(c *Config) { c.RateLimit.Period = 0 }, []string{"AIDMALL_RATE_LIMIT_PERIOD"}},
		{"zero_rate_burst_is_refused", func(c *Config) { c.RateLimit.Burst = 0 }, []string{"AIDMALL_RATE_LIMIT_BURST"}},
		{"every_problem_is_reported_at_once", func(c *Config) { c.Listen = "x"; c.LogLevel = "x"; c.Jobs.Workers = -1 }, []string{"AIDMALL_LISTEN", "AIDMALL_LOG_LEVEL", "AIDMALL_JOB_WORKERS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Defaults()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks a password: %q", err)
			}
		})
	}
}

func TestMall(t *testing.T) {
	t.Parallel()
	c := Defaults()
	c.Malls = map[orders.Mall]MallConfig{"ccb": {AppID: "ccb-id"}, "abc": {AppID: "abc-id"}}
	if c.Mall(orders.Mall("ccb")).AppID != "ccb-id" || c.Mall(orders.Mall("abc")).AppID != "abc-id" {
		t.Error("Mall returned the wrong mall's settings")
	}
	if c.Mall(orders.MallAuto) != (MallConfig{}) || c.Mall(orders.Mall("ccb")).Configured() {
		t.Error("auto must have no settings; a mall without URL is not configured")
	}
}

func TestSlogLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got := (Config{LogLevel: in}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLoadSealKey(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)

	t.Run("setting_wins_and_touches_no_file", func(t *testing.T) {
		t.Parallel()
		want := bytes.Repeat([]byte{7}, 32)
		c := Config{DataDir: t.TempDir(), SealKey: base64.StdEncoding.EncodeToString(want)}
		got, err := c.LoadSealKey(slog.New(slog.DiscardHandler), nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %x, %v", got, err)
		}
		if _, err := os.Stat(c.SealKeyFile()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a key file was written although the key was given: %v", err)
		}
	})
	t.Run("first_run_generates_a_private_file_and_warns_then_reuses_it", func(t *testing.T) {
		t.Parallel()
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		c := Config{DataDir: filepath.Join(t.TempDir(), "new", "dir")}
		random := bytes.NewReader(bytes.Repeat([]byte{0xAB}, 64))
		first, err := c.LoadSealKey(log, random)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, bytes.Repeat([]byte{0xAB}, 32)) {
			t.Errorf("key %x was not drawn from the given random source", first)
		}
		st, err := os.Stat(c.SealKeyFile())
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, mode %v", err, st.Mode())
		}
		if !strings.Contains(logs.String(), "generated a new seal key") {
			t.Errorf("no warning logged: %q", logs.String())
		}
		second, err := c.LoadSealKey(log, bytes.NewReader(bytes.Repeat([]byte{0xCD}, 64)))
		if err != nil || !bytes.Equal(second, first) {
			t.Errorf("second run got %x, %v; want the stored key", second, err)
		}
		if entries, _ := os.ReadDir(c.DataDir); len(entries) != 1 {
			t.Errorf("data dir holds %d entries, want only seal.key", len(entries))
		}
	})
	t.Run("malformed_key_file_is_an_error", func(t *testing.T) {
		t.Parallel()
		c := Config{DataDir: t.TempDir()}
		if err := os.WriteFile(c.SealKeyFile(), []byte("c2hvcnQ=\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := c.LoadSealKey(log, nil); err == nil || !strings.Contains(err.Error(), "seal.key") {
			t.Errorf("err %v, want one naming the file", err)
		}
	})
}

// FuzzLoadFile: whatever the file holds, Load either refuses it or returns a
// configuration that validates.
func FuzzLoadFile(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"listen":"127.0.0.1:9000"}`, `{"ccb":{"url":"https://x"}}`,
		`{"jobs":{"workers":"8","poll_interval":"2s"}}`, `{"database_url":"postgres://u@h/d"}`,
		`{"database_url":null}`, `[1]`, `{"breaker":{"failures":1e3}}`, `nul`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(env(nil), p, testMalls...)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned a config that does not validate: %v", err)
		}
	})
}

// TestPublicURLFor: the malls are told the configured public URL, or the address the
// server actually bound, never a wildcard or port 0.
func TestPublicURLFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, configured, bound, want string
	}{
		{"configured_url_wins", "https://aid.example.cn", "127.0.0.1:43121", "https://aid.example.cn"},
		{"bound_address_when_unset", "", "127.0.0.1:43121", "http://127.0.0.1:43121"},
		{"wildcard_host_becomes_loopback", "", "[::]:8081", "http://127.0.0.1:8081"},
		{"unspecified_ipv4_becomes_loopback", "", "0.0.0.0:8081", "http://127.0.0.1:8081"},
		{"empty_host_becomes_loopback", "", ":8081", "http://127.0.0.1:8081"},
		{"named_host_is_kept", "", "localhost:8081", "http://localhost:8081"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (Config{PublicURL: tt.configured}).PublicURLFor(tt.bound); got != tt.want {
				t.Errorf("PublicURLFor(%q) = %q, want %q", tt.bound, got, tt.want)
			}
		})
	}
}

// testMalls are the mall codes these tests load settings for (cmd/aidmall passes the
// registered drivers' codes).
var testMalls = []orders.Mall{"ccb", "abc"}

func TestPlacedAtWindow(t *testing.T) {
	t.Parallel()
	bj := time.FixedZone("CST", 8*3600)
	t.Run("when_unset_expect_2015_and_a_day", func(t *testing.T) {
		t.Parallel()
		c, err := Load(func(string) string { return "" }, "")
		if err != nil {
			t.Fatal(err)
		}
		if !c.PlacedAt.Earliest.Equal(time.Date(2015, 1, 1, 0, 0, 0, 0, bj)) || c.PlacedAt.Ahead != 24*time.Hour {
			t.Errorf("window %+v", c.PlacedAt)
		}
	})
	t.Run("when_env_set_expect_it_wins", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"AIDMALL_PLACED_AT_EARLIEST": "2018-01-01", "AIDMALL_PLACED_AT_AHEAD": "10m"}
		c, err := Load(func(k string) string { return env[k] }, "")
		if err != nil {
			t.Fatal(err)
		}
		if !c.PlacedAt.Earliest.Equal(time.Date(2018, 1, 1, 0, 0, 0, 0, bj)) || c.PlacedAt.Ahead != 10*time.Minute {
			t.Errorf("window %+v", c.PlacedAt)
		}
	})
	for name, env := range map[string]map[string]string{
		"when_earliest_not_a_date_expect_error":  {"AIDMALL_PLACED_AT_EARLIEST": "2015/01/01"},
		"when_earliest_before_2000_expect_error": {"AIDMALL_PLACED_AT_EARLIEST": "1990-01-01"},
		"when_ahead_negative_expect_error":       {"AIDMALL_PLACED_AT_AHEAD": "-1h"},
		"when_ahead_over_a_week_expect_error":    {"AIDMALL_PLACED_AT_AHEAD": "200h"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(func(k string) string { return env[k] }, "")
			if err == nil || !strings.Contains(err.Error(), "AIDMALL_PLACED_AT_") {
				t.Errorf("err %v, want one naming the variable", err)
			}
		})
	}
}
