package api_test

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"aidmall/adapters/redisx"
	. "aidmall/api"
)

// The API behind a real token bucket, in process on the harness's clock and on a real
// Redis (AIDMALL_TEST_REDIS): a key's burst passes at once, the next request is a 429
// whose Retry-After, in whole seconds, is enough to be admitted, and another key is not
// held up meanwhile.
func TestRateLimit_tokenBucket(t *testing.T) {
	t.Parallel()
	// A burst of 3, then one request every 2 s.
	r := redisx.Rate{Events: 30, Period: time.Minute, Burst: 3}
	backends := []struct {
		name    string
		limiter func(t *testing.T, h *harness) redisx.RateLimiter
		wait    func(h *harness, d time.Duration)
	}{
		{"memory", func(t *testing.T, h *harness) redisx.RateLimiter {
			l, err := redisx.NewMemoryRateLimiter(r, h.clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, func(h *harness, d time.Duration) { h.clock.Advance(d) }},
		{"redis", func(t *testing.T, h *harness) redisx.RateLimiter {
			url := os.Getenv("AIDMALL_TEST_REDIS")
			if url == "" {
				t.Skip("AIDMALL_TEST_REDIS not set (e.g. redis://127.0.0.1:6379/15): the API's Redis rate limit is not tested")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := redisx.Open(ctx, url)
			if err != nil {
				t.Fatalf("AIDMALL_TEST_REDIS: %v", err)
			}
			t.Cleanup(func() { _ = c.Close() })
			l, err := redisx.NewRedisRateLimiter(c, "aidmall-test:api:"+strconv.FormatInt(time.Now().UnixNano(), 36)+":", r)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, func(_ *harness, d time.Duration) { time.Sleep(d) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			var lim redisx.RateLimiter
			h := newHarness(t, func(c *Config) {
				c.Limiter = limiterFunc(func(ctx context.Context, key string) (bool, time.Duration, error) { return lim.Allow(ctx, key) })
			})
			lim = b.limiter(t, h)
			get := func(key string) (int, string) {
				rec := h.do(request{method: http.MethodGet, path: "/v1/orders", key: key})
				if rec.Code == http.StatusTooManyRequests && problemOf(t, rec).Type != ProblemTypeBase+"rate-limited" {
					t.Errorf("429 body %s", rec.Body)
				}
				return rec.Code, rec.Header().Get("Retry-After")
			}
			for i := range 3 {
				if code, _ := get("key-hq"); code != http.StatusOK {
					t.Fatalf("request %d of the burst: status %d", i+1, code)
				}
			}
			code, retry := get("key-hq")
			if code != http.StatusTooManyRequests || retry != "2" {
				t.Fatalf("4th request: status %d, Retry-After %q; want 429 and 2 (one token every 2 s)", code, retry)
			}
			if code, _ := get("key-s01"); code != http.StatusOK {
				t.Errorf("another key's request: status %d, want 200", code)
			}
			secs, _ := strconv.Atoi(retry)
			b.wait(h, time.Duration(secs)*time.Second)
			if code, retry := get("key-hq"); code != http.StatusOK {
				t.Fatalf("after waiting the Retry-After: status %d (Retry-After %q)", code, retry)
			}
			if code, _ := get("key-hq"); code != http.StatusTooManyRequests {
				t.Errorf("second request on one refilled token: status %d, want 429", code)
			}
		})
	}
}

type limiterFunc func(ctx context.Context, key string) (bool, time.Duration, error)

func (f limiterFunc) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	return f(ctx, key)
}
