package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"aidmall/adapters/redisx"
	"aidmall/orders"
)

// testRedis is the real Redis of AIDMALL_TEST_REDIS; skipped without it, failed under CI.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("AIDMALL_TEST_REDIS")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("AIDMALL_TEST_REDIS not set under CI")
		}
		t.Skip("AIDMALL_TEST_REDIS not set (e.g. redis://127.0.0.1:6379/15): shared rate limit not tested")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redisx.Open(ctx, url)
	if err != nil {
		t.Fatalf("AIDMALL_TEST_REDIS: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func randomPrefix(t *testing.T) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "aidmall:test:mallrate:" + hex.EncodeToString(b) + ":"
}

// sharedLimiter is the Redis limiter cmd/aidmall builds for a mall's rate.
func sharedLimiter(t *testing.T, c *redis.Client, prefix string, perSecond, burst int) SharedLimiter {
	t.Helper()
	l, err := redisx.NewRedisRateLimiter(c, prefix, redisx.Rate{Events: perSecond, Period: time.Second, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func limiterOf(t *testing.T, r MallRate, now func() time.Time) *mallLimiter {
	t.Helper()
	ls, err := newMallLimiters(map[orders.Mall]MallRate{mallCCB: r}, now)
	if err != nil {
		t.Fatal(err)
	}
	return ls[mallCCB]
}

func TestMallLimiter_inProcess(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	l := limiterOf(t, MallRate{PerSecond: 2, Burst: 3}, c.now)
	ctx := context.Background()
	for i := range 3 {
		if w := l.take(ctx); w != 0 {
			t.Fatalf("call %d of the burst held for %s", i+1, w)
		}
	}
	if w := l.take(ctx); w != 500*time.Millisecond {
		t.Fatalf("call over the burst held for %s, want 500ms (2 per second)", w)
	}
	c.add(500 * time.Millisecond)
	if w := l.take(ctx); w != 0 {
		t.Fatalf("after the wait: held for %s", w)
	}
	if ls, _ := newMallLimiters(map[orders.Mall]MallRate{mallCCB: {}}, c.now); ls[mallCCB] != nil {
		t.Error("a rate of 0 per second made a limiter; want none (no limit)")
	}
	if _, err := newMallLimiters(map[orders.Mall]MallRate{mallCCB: {PerSecond: -1}}, c.now); err == nil {
		t.Error("a negative rate was accepted")
	}
}

// Two replicas share one mall's rate through Redis: together they get the burst, not each.
func TestMallLimiter_sharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	c := testRedis(t)
	prefix := randomPrefix(t)
	ctx := context.Background()
	a := limiterOf(t, MallRate{PerSecond: 1, Burst: 4, Shared: sharedLimiter(t, c, prefix, 1, 4)}, time.Now)
	b := limiterOf(t, MallRate{PerSecond: 1, Burst: 4, Shared: sharedLimiter(t, c, prefix, 1, 4)}, time.Now)
	let := 0
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if l.take(ctx) == 0 {
			let++
		}
	}
	if let != 4 {
		t.Errorf("%d of 8 calls from two replicas let through at once, want the shared burst of 4", let)
	}
}

// While Redis is unreachable the limit is kept in process, not dropped.
func TestMallLimiter_fallsBackInProcessWhenRedisIsUnreachable(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	l := limiterOf(t, MallRate{PerSecond: 1, Burst: 2, Shared: sharedLimiter(t, dead, randomPrefix(t), 1, 2)}, time.Now)
	ctx := context.Background()
	if l.take(ctx) != 0 || l.take(ctx) != 0 {
		t.Fatal("the burst was held back while Redis is down")
	}
	if w := l.take(ctx); w <= 0 || w > time.Second {
		t.Fatalf("third call held for %s; want up to a second (the in-process limit)", w)
	}
}
