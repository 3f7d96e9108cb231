package redisx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// rateScript counts one event in KEYS[1] and returns {count, milliseconds left}. The
// window starts with the first INCR, which gets a PEXPIRE of ARGV[1] ms; a key that lost
// its expiry somehow gets one again, so no key can block forever. One script, so that the
// count and the expiry change together even when replicas race.
const rateScript = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`

// RedisRateLimiter is a RateLimiter in Redis: a fixed window per key, counted with INCR
// and expired with PEXPIRE in one Lua script, shared by every replica.
type RedisRateLimiter struct {
	c      *redis.Client
	prefix string
	limit  int64
	period time.Duration
	script *redis.Script
}

// NewRedisRateLimiter returns a limiter of limit events per period per key on c, with keys
// prefix + key (e.g. "aidmall:rate:"). Errors: a nil client, limit below 1, period below
// 1 ms.
func NewRedisRateLimiter(c *redis.Client, prefix string, limit int, period time.Duration) (*RedisRateLimiter, error) {
	if c == nil {
		return nil, errors.New("redisx: nil redis client")
	}
	if err := checkLimit(limit, period); err != nil {
		return nil, err
	}
	return &RedisRateLimiter{c: c, prefix: prefix, limit: int64(limit), period: period, script: redis.NewScript(rateScript)}, nil
}

// Allow implements RateLimiter.
func (l *RedisRateLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if err := checkKey(key); err != nil {
		return false, 0, err
	}
	res, err := l.script.Run(ctx, l.c, []string{l.prefix + key}, ttlMillis(l.period)).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("redisx: rate limit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("redisx: rate limit: script returned %d values", len(res))
	}
	if res[0] <= l.limit {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Millisecond, nil
}

// MemoryRateLimiter is the in-process twin of RedisRateLimiter: the same fixed windows in a
// map under a mutex, swept of ended windows lazily.
type MemoryRateLimiter struct {
	limit  int
	period time.Duration
	now    func() time.Time

	mu        sync.Mutex
	windows   map[string]*window
	nextSweep time.Time
}

type window struct {
	ends  time.Time
	count int
}

// NewMemoryRateLimiter returns an in-memory limiter of limit events per period per key on
// clock now (time.Now if nil). Errors: limit below 1, period below 1 ms.
func NewMemoryRateLimiter(limit int, period time.Duration, now func() time.Time) (*MemoryRateLimiter, error) {
	if err := checkLimit(limit, period); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryRateLimiter{limit: limit, period: period, now: now, windows: map[string]*window{}}, nil
}

// Allow implements RateLimiter.
func (l *MemoryRateLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if err := checkKey(key); err != nil {
		return false, 0, err
	}
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		for k, w := range l.windows {
			if !now.Before(w.ends) {
				delete(l.windows, k)
			}
		}
		l.nextSweep = now.Add(sweepEvery)
	}
	w, ok := l.windows[key]
	if !ok || !now.Before(w.ends) {
		w = &window{ends: now.Add(time.Duration(ttlMillis(l.period)) * time.Millisecond)}
		l.windows[key] = w
	}
	if w.count < l.limit {
		w.count++
		return true, 0, nil
	}
	return false, w.ends.Sub(now), nil
}

func checkLimit(limit int, period time.Duration) error {
	if limit < 1 {
		return fmt.Errorf("redisx: rate limit %d is below 1", limit)
	}
	if period < time.Millisecond {
		return fmt.Errorf("redisx: rate period %s is below 1ms", period)
	}
	return nil
}
