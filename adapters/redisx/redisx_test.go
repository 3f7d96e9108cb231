package redisx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// harness is one backend of the shared suite: the in-memory twins on a fake clock,
// miniredis (Redis's commands and Lua in process, with a clock the test moves), and a
// real Redis when AIDMALL_TEST_REDIS is set.
type harness struct {
	nonces  func(t *testing.T) NonceStore
	limiter func(t *testing.T, r Rate) RateLimiter
	// advance lets d pass for the backend's notion of time.
	advance func(d time.Duration)
	// unit is a realistic period for the backend: a minute where time is simulated, a
	// second on a real Redis (whose time the test cannot move, only wait for).
	unit time.Duration
	// exact: time moves only when advance is called, so boundaries can be tested exactly.
	exact bool
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func memoryHarness(t *testing.T) harness {
	clock := &fakeClock{now: time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)}
	return harness{
		nonces: func(t *testing.T) NonceStore { return NewMemoryNonceStore(clock.Now) },
		limiter: func(t *testing.T, r Rate) RateLimiter {
			l, err := NewMemoryRateLimiter(r, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
		advance: clock.Add, unit: time.Minute, exact: true,
	}
}

func redisHarness(t *testing.T, c *redis.Client, advance func(time.Duration), unit time.Duration, exact bool) harness {
	prefix := "aidmall-test:" + randomHex(t) + ":"
	return harness{
		nonces: func(t *testing.T) NonceStore {
			s, err := NewRedisNonceStore(c, prefix+"nonce:")
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		limiter: func(t *testing.T, r Rate) RateLimiter {
			l, err := NewRedisRateLimiter(c, prefix+"rate:", r)
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
		advance: advance, unit: unit, exact: exact,
	}
}

func miniredisHarness(t *testing.T) harness {
	m := miniredis.RunT(t)
	// miniredis's TIME (which the rate limiter's script reads) follows SetTime, its TTLs
	// FastForward: advance moves both.
	var mu sync.Mutex
	now := time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)
	m.SetTime(now)
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
		m.SetTime(now)
		m.FastForward(d)
	}
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return redisHarness(t, c, advance, time.Minute, true)
}

func realRedisHarness(t *testing.T) harness {
	url := os.Getenv("AIDMALL_TEST_REDIS")
	if url == "" {
		t.Skip("AIDMALL_TEST_REDIS not set (e.g. redis://127.0.0.1:6379/15): real Redis suite skipped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("AIDMALL_TEST_REDIS: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Real time: waiting is the only way to let a TTL pass on a server we do not control.
	return redisHarness(t, c, time.Sleep, time.Second, false)
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func forEachBackend(t *testing.T, test func(t *testing.T, h harness)) {
	backends := map[string]func(t *testing.T) harness{
		"memory":    memoryHarness,
		"miniredis": miniredisHarness,
		"redis":     realRedisHarness,
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, mk(t))
		})
	}
}

func TestNonceStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, h harness)
	}{
		{"second_remember_of_a_key_is_not_fresh", func(t *testing.T, h harness) {
			s := h.nonces(t)
			mustFresh(t, s, "n1", h.unit, true)
			mustFresh(t, s, "n1", h.unit, false)
		}},
		{"keys_are_independent", func(t *testing.T, h harness) {
			s := h.nonces(t)
			mustFresh(t, s, "a", h.unit, true)
			mustFresh(t, s, "b", h.unit, true)
			mustFresh(t, s, "a", h.unit, false)
		}},
		{"key_is_fresh_again_once_its_ttl_has_passed", func(t *testing.T, h harness) {
			s := h.nonces(t)
			mustFresh(t, s, "n", h.unit, true)
			h.advance(h.unit + h.unit/10)
			mustFresh(t, s, "n", h.unit, true)
			mustFresh(t, s, "n", h.unit, false)
		}},
		{"key_is_still_remembered_just_before_its_ttl", func(t *testing.T, h harness) {
			if !h.exact {
				t.Skip("needs a clock the test controls")
			}
			s := h.nonces(t)
			mustFresh(t, s, "n", h.unit, true)
			h.advance(h.unit - time.Millisecond)
			mustFresh(t, s, "n", h.unit, false)
		}},
		{"fifty_concurrent_remembers_of_one_key_give_exactly_one_fresh", func(t *testing.T, h harness) {
			s := h.nonces(t)
			var fresh atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, 50)
			for range 50 {
				wg.Go(func() {
					<-start
					ok, err := s.Remember(ctx, "same", h.unit)
					if err != nil {
						errs <- err
					}
					if ok {
						fresh.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := fresh.Load(); got != 1 {
				t.Errorf("%d fresh, want exactly 1", got)
			}
		}},
		{"empty_key_and_tiny_ttl_are_refused", func(t *testing.T, h harness) {
			s := h.nonces(t)
			if _, err := s.Remember(ctx, "", h.unit); err == nil {
				t.Error("empty key accepted")
			}
			if _, err := s.Remember(ctx, "k", time.Microsecond); err == nil {
				t.Error("ttl below 1ms accepted")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, tt.run)
		})
	}
}

func mustFresh(t *testing.T, s NonceStore, key string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := s.Remember(context.Background(), key, ttl)
	if err != nil {
		t.Fatalf("Remember(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Remember(%q) fresh = %v, want %v", key, got, want)
	}
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	allow := func(t *testing.T, l RateLimiter, key string) (bool, time.Duration) {
		t.Helper()
		ok, after, err := l.Allow(ctx, key)
		if err != nil {
			t.Fatalf("Allow(%q): %v", key, err)
		}
		return ok, after
	}
	mustAllow := func(t *testing.T, l RateLimiter, key string, n int) {
		t.Helper()
		for i := range n {
			if ok, after := allow(t, l, key); !ok || after != 0 {
				t.Fatalf("event %d of %d refused (retry after %s)", i+1, n, after)
			}
		}
	}
	// near: an exact backend answers to the microsecond (the Redis script's floats, the
	// memory twin's rounding); a real Redis's clock runs while the test does.
	near := func(h harness, got, want time.Duration) bool {
		if h.exact {
			return got >= want && got <= want+time.Millisecond
		}
		return got > 0 && got <= want
	}
	tests := []struct {
		name string
		run  func(t *testing.T, h harness)
	}{
		{"a_burst_passes_at_once_then_the_next_is_refused_with_the_time_to_one_token", func(t *testing.T, h harness) {
			// 4 per unit, burst 5: five at once, then one every unit/4.
			l := h.limiter(t, Rate{Events: 4, Period: h.unit, Burst: 5})
			mustAllow(t, l, "clerk", 5)
			ok, after := allow(t, l, "clerk")
			if ok {
				t.Fatal("6th event of a burst of 5 allowed")
			}
			if !near(h, after, h.unit/4) {
				t.Errorf("retry after %s, want %s (one token at 4 per %s)", after, h.unit/4, h.unit)
			}
		}},
		{"waiting_the_retry_after_is_admitted_and_not_sooner", func(t *testing.T, h harness) {
			l := h.limiter(t, Rate{Events: 2, Period: h.unit, Burst: 2})
			mustAllow(t, l, "k", 2)
			_, after := allow(t, l, "k")
			if h.exact {
				h.advance(after - after/10)
				if ok, again := allow(t, l, "k"); ok || !near(h, again, after/10) {
					t.Errorf("before the retry after: ok %v, retry after %s; want refused with %s", ok, again, after/10)
				}
				h.advance(after / 10)
			} else {
				h.advance(after)
			}
			if ok, again := allow(t, l, "k"); !ok {
				t.Fatalf("refused (retry after %s) once the announced %s had passed", again, after)
			}
			if ok, _ := allow(t, l, "k"); ok {
				t.Error("the refilled token was spent twice")
			}
		}},
		{"tokens_refill_at_the_rate", func(t *testing.T, h harness) {
			if !h.exact {
				t.Skip("needs a clock the test controls")
			}
			l := h.limiter(t, Rate{Events: 3, Period: h.unit, Burst: 6})
			mustAllow(t, l, "k", 6)
			h.advance(h.unit) // three tokens back
			mustAllow(t, l, "k", 3)
			if ok, _ := allow(t, l, "k"); ok {
				t.Error("a 4th event allowed one period after emptying a bucket refilled at 3 per period")
			}
		}},
		{"a_quiet_key_holds_no_more_than_the_burst", func(t *testing.T, h harness) {
			l := h.limiter(t, Rate{Events: 10, Period: h.unit, Burst: 2})
			allow(t, l, "k")
			h.advance(2 * h.unit) // 20 tokens' worth of quiet
			mustAllow(t, l, "k", 2)
			if ok, _ := allow(t, l, "k"); ok && h.exact {
				t.Error("a 3rd event allowed from a bucket of 2")
			}
		}},
		{"keys_have_their_own_buckets", func(t *testing.T, h harness) {
			l := h.limiter(t, Rate{Events: 1, Period: time.Hour, Burst: 1})
			if ok, _ := allow(t, l, "branch-a"); !ok {
				t.Fatal("first event of a refused")
			}
			if ok, _ := allow(t, l, "branch-b"); !ok {
				t.Error("b refused because a used its bucket")
			}
			if ok, _ := allow(t, l, "branch-a"); ok {
				t.Error("a's second event allowed")
			}
		}},
		{"fifty_concurrent_events_admit_exactly_the_burst", func(t *testing.T, h harness) {
			l := h.limiter(t, Rate{Events: 1, Period: time.Hour, Burst: 10})
			var admitted atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 50 {
				wg.Go(func() {
					<-start
					ok, _, err := l.Allow(ctx, "hot")
					if err != nil {
						t.Error(err)
					}
					if ok {
						admitted.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if got := admitted.Load(); got != 10 {
				t.Errorf("%d admitted, want 10", got)
			}
		}},
		{"empty_key_is_refused", func(t *testing.T, h harness) {
			if _, _, err := h.limiter(t, Rate{Events: 1, Period: h.unit, Burst: 1}).Allow(ctx, ""); err == nil {
				t.Error("empty key accepted")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, tt.run)
		})
	}
}

func TestConstructors_rejectBadArguments(t *testing.T) {
	t.Parallel()
	if _, err := NewRedisNonceStore(nil, "p"); err == nil {
		t.Error("nil client accepted by NewRedisNonceStore")
	}
	if _, err := NewRedisRateLimiter(nil, "p", Rate{Events: 1, Period: time.Second, Burst: 1}); err == nil {
		t.Error("nil client accepted by NewRedisRateLimiter")
	}
	for _, r := range []Rate{
		{0, time.Second, 1}, {-1, time.Second, 1}, {1, 0, 1}, {1, time.Microsecond, 1},
		{1, time.Second, 0}, {1, time.Second, -5}, {2_000_000, time.Millisecond, 1},
	} {
		if _, err := NewMemoryRateLimiter(r, nil); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func TestMemoryRateLimiter_sweepsFullBuckets(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)}
	l, err := NewMemoryRateLimiter(Rate{Events: 1, Period: time.Second, Burst: 2}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if ok, _, _ := l.Allow(context.Background(), k); !ok {
			t.Fatalf("%s refused", k)
		}
	}
	clock.Add(2 * sweepEvery) // every bucket full again: as good as new
	if ok, _, _ := l.Allow(context.Background(), "d"); !ok {
		t.Fatal("d refused")
	}
	if l.Len() != 1 {
		t.Errorf("%d buckets held after a sweep, want only the one in use", l.Len())
	}
}

func TestNoncesAndLimiter_pickTheTwinWithoutRedis(t *testing.T) {
	t.Parallel()
	if _, ok := Nonces(nil, "p", nil).(*MemoryNonceStore); !ok {
		t.Error("Nonces(nil) is not the in-memory twin")
	}
	l, err := Limiter(nil, "p", Rate{Events: 5, Period: time.Second, Burst: 5}, nil)
	if _, ok := l.(*MemoryRateLimiter); !ok || err != nil {
		t.Errorf("Limiter(nil) = %T, %v", l, err)
	}
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	if _, ok := Nonces(c, "p", nil).(*RedisNonceStore); !ok {
		t.Error("Nonces(client) is not the Redis store")
	}
	if l, err := Limiter(c, "p", Rate{Events: 5, Period: time.Second, Burst: 5}, nil); err != nil {
		t.Error(err)
	} else if _, ok := l.(*RedisRateLimiter); !ok {
		t.Errorf("Limiter(client) = %T", l)
	}
}

func TestMemoryNonceStore_sweepsExpiredKeys(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)}
	s := NewMemoryNonceStore(clock.Now)
	for _, k := range []string{"a", "b", "c"} {
		mustFresh(t, s, k, time.Second, true)
	}
	clock.Add(2 * sweepEvery)
	mustFresh(t, s, "d", time.Second, true)
	if s.Len() != 1 {
		t.Errorf("%d keys held after a sweep, want only the live one", s.Len())
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("connects_and_pings", func(t *testing.T) {
		t.Parallel()
		m := miniredis.RunT(t)
		c, err := Open(ctx, "redis://"+m.Addr()+"/0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil || m.Exists("k") == false {
			t.Errorf("client does not talk to the server: %v", err)
		}
	})
	t.Run("malformed_url_error_hides_the_password", func(t *testing.T) {
		t.Parallel()
		_, err := Open(ctx, "http://user:s3cret@127.0.0.1:6379")
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("unreachable_server_fails_the_ping", func(t *testing.T) {
		t.Parallel()
		m := miniredis.RunT(t)
		addr := m.Addr()
		m.Close()
		if c, err := Open(ctx, "redis://"+addr); err == nil {
			c.Close()
			t.Error("Open succeeded against a closed port")
		}
	})
}
