package redisx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Rate is a token bucket: it holds at most Burst tokens, refilled at Events per Period;
// each event takes one. A key that was quiet long enough may send Burst events at once,
// and then one every Period/Events. Events 120, Period 1m, Burst 60: a clerk's bulk
// upload of 60 orders goes straight through, the 61st waits half a second.
type Rate struct {
	Events int           // tokens added per Period, ≥ 1
	Period time.Duration // ≥ 1 ms
	Burst  int           // bucket size, ≥ 1
}

// interval is the time one token takes to come back.
func (r Rate) interval() time.Duration {
	return r.Period / time.Duration(r.Events)
}

func (r Rate) check() error {
	if r.Events < 1 {
		return fmt.Errorf("redisx: rate limit of %d events per period is below 1", r.Events)
	}
	if r.Period < time.Millisecond {
		return fmt.Errorf("redisx: rate period %s is below 1ms", r.Period)
	}
	if r.Burst < 1 {
		return fmt.Errorf("redisx: rate limit burst %d is below 1", r.Burst)
	}
	if r.interval() <= 0 {
		return fmt.Errorf("redisx: %d events per %s is finer than a nanosecond", r.Events, r.Period)
	}
	return nil
}

// RedisRateLimiter is a RateLimiter in Redis, shared by every replica: the GCRA of
// github.com/go-redis/redis_rate (one Lua script reading Redis's own clock, so replicas
// with skewed clocks still agree), one key per caller holding the bucket's "theoretical
// arrival time", expiring once the bucket is full again.
type RedisRateLimiter struct {
	l      *redis_rate.Limiter
	prefix string
	limit  redis_rate.Limit
}

// NewRedisRateLimiter returns a limiter of r per key on c, with Redis keys
// "rate:" + prefix + key (redis_rate adds "rate:"). Errors: a nil client, a Rate whose
// Events, Burst are below 1 or whose Period is below 1 ms.
func NewRedisRateLimiter(c *redis.Client, prefix string, r Rate) (*RedisRateLimiter, error) {
	if c == nil {
		return nil, errors.New("redisx: nil redis client")
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &RedisRateLimiter{l: redis_rate.NewLimiter(c), prefix: prefix,
		limit: redis_rate.Limit{Rate: r.Events, Period: r.Period, Burst: r.Burst}}, nil
}

// Allow implements RateLimiter.
func (l *RedisRateLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if err := checkKey(key); err != nil {
		return false, 0, err
	}
	res, err := l.l.Allow(ctx, l.prefix+key, l.limit)
	if err != nil {
		return false, 0, fmt.Errorf("redisx: rate limit: %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	// The script's float seconds, to the microsecond; never 0 for a refusal, so a caller
	// that waits what it is told is admitted.
	wait := res.RetryAfter
	if wait <= 0 {
		wait = time.Millisecond
	}
	return false, wait, nil
}

// MemoryRateLimiter is the in-process twin of RedisRateLimiter: one
// golang.org/x/time/rate.Limiter per key, in a map under a mutex; buckets that are full
// again (as good as new) are swept lazily.
type MemoryRateLimiter struct {
	r   Rate
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	nextSweep time.Time
}

// NewMemoryRateLimiter returns an in-memory limiter of r per key on clock now (time.Now if
// nil). Errors as NewRedisRateLimiter's for r.
func NewMemoryRateLimiter(r Rate, now func() time.Time) (*MemoryRateLimiter, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryRateLimiter{r: r, now: now, buckets: map[string]*rate.Limiter{}}, nil
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
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.r.Burst) {
				delete(l.buckets, k)
			}
		}
		l.nextSweep = now.Add(sweepEvery)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Every(l.r.interval()), l.r.Burst)
		l.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return true, 0, nil
	}
	// Under l.mu nothing else takes from b, so this is exactly when the next token is
	// whole again; rounded up to the microsecond like the Redis twin's answer.
	missing := 1 - b.TokensAt(now)
	wait := time.Duration(math.Ceil(missing * float64(l.r.interval()) / float64(time.Microsecond)))
	return false, max(wait*time.Microsecond, time.Microsecond), nil
}

// Len is how many buckets the limiter holds (tests of the sweep).
func (l *MemoryRateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
