// Package redisx holds aidmall's short-lived coordination state — the replay-nonce cache
// of the mall webhooks, the per-key rate limits of the API and the dashboard's change bus —
// in Redis (go-redis v9) when REDIS_URL is set, so that every replica sees the same, and in
// process otherwise. Each Redis type has an in-memory twin with the same behaviour
// (NonceStore, RateLimiter, Bus); Nonces and Limiter pick one, and Health hands out parts
// that use Redis while it answers and their twins while it does not. Redis is never the
// only copy of anything: losing it loses at most a replay window and the state of the rate
// limits' buckets.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// NonceStore remembers keys (request nonces, notification ids) for a while.
type NonceStore interface {
	// Remember records key for ttl and reports whether it was fresh: true the first
	// time within ttl, false when it is already remembered. Concurrent calls with one
	// key see exactly one fresh. Errors: an empty key, ttl below 1 ms, or the store
	// failing (then fresh is false and the caller must refuse the request).
	Remember(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
}

// RateLimiter is a token bucket per key (Rate): a burst passes at once, then events are
// admitted at the bucket's refill rate.
type RateLimiter interface {
	// Allow takes one token from key's bucket. ok is false when the bucket is empty;
	// retryAfter is then how long until the next token is whole (> 0; waiting that long
	// and asking again is admitted unless another event took it first), 0 when ok.
	// Errors: an empty key or the store failing (ok is then false).
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Open connects to the Redis at url (redis://[user:password@]host:port[/db] or rediss://)
// and pings it within ctx. Errors: a malformed URL (the message does not repeat it, as it
// may hold a password) or a failed ping; the client is closed on error.
func Open(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("redisx: REDIS_URL is not a redis:// or rediss:// URL")
	}
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redisx: ping %s: %w", opts.Addr, err)
	}
	return c, nil
}

// Nonces returns a Redis NonceStore on c under prefix, or the in-memory twin on clock now
// when c is nil (REDIS_URL empty). now may be nil for time.Now.
func Nonces(c *redis.Client, prefix string, now func() time.Time) NonceStore {
	if c == nil {
		return NewMemoryNonceStore(now)
	}
	return &RedisNonceStore{c: c, prefix: prefix}
}

// Limiter returns a Redis RateLimiter of r on c under prefix, or the in-memory twin on
// clock now when c is nil. Errors as NewMemoryRateLimiter.
func Limiter(c *redis.Client, prefix string, r Rate, now func() time.Time) (RateLimiter, error) {
	if c == nil {
		return NewMemoryRateLimiter(r, now)
	}
	return NewRedisRateLimiter(c, prefix, r)
}

// ttlMillis rounds d up to whole milliseconds, Redis's resolution.
func ttlMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func checkKey(key string) error {
	if key == "" {
		return errors.New("redisx: empty key")
	}
	return nil
}
