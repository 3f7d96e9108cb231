package jobs

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"aidmall/orders"
)

// MallRate is a mall's own rate limit: the calls per second aidmall may make to it, all
// replicas together, with Burst calls at once after a quiet spell (a token bucket). It
// comes from the mall's settings (config.MallConfig.RateLimit, AIDMALL_<CODE>_RATE_LIMIT
// and _RATE_BURST), so every registered mall has one. A call over the limit is not made:
// the job snoozes until a token is due (plus jitter) without using an attempt.
type MallRate struct {
	// PerSecond is the sustained rate; 0 means no limit.
	PerSecond int
	// Burst is the bucket's size. Default (0): PerSecond.
	Burst int
	// Shared, when not nil, is the limit kept for every replica (redisx.RedisRateLimiter
	// of PerSecond per second and Burst, keyed by the mall's code). Nil, or while it
	// fails (Redis unreachable), the limit is kept in this process alone.
	Shared SharedLimiter
}

// SharedLimiter is a token bucket per key shared by the replicas (redisx.RateLimiter).
type SharedLimiter interface {
	// Allow takes one token from key's bucket; when none is left, ok is false and
	// retryAfter is how long until one is. Errors: the store failing.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// mallLimiter keeps one mall's rate: in the shared store when there is one (cmd gives
// redisx.Health's limiter, which itself limits in process, logged and counted, while Redis
// is away), in process otherwise or when the shared store errs.
type mallLimiter struct {
	mall   orders.Mall
	shared SharedLimiter
	local  *rate.Limiter
	now    func() time.Time
}

func newMallLimiters(rates map[orders.Mall]MallRate, now func() time.Time) (map[orders.Mall]*mallLimiter, error) {
	out := map[orders.Mall]*mallLimiter{}
	for m, r := range rates {
		if r.PerSecond < 0 || r.Burst < 0 {
			return nil, fmt.Errorf("jobs: mall %s rate limit %d/s burst %d: negative", m, r.PerSecond, r.Burst)
		}
		if r.PerSecond == 0 {
			continue
		}
		burst := cmp(r.Burst, r.PerSecond)
		out[m] = &mallLimiter{mall: m, shared: r.Shared, local: rate.NewLimiter(rate.Limit(r.PerSecond), burst), now: now}
	}
	return out, nil
}

// take takes a token for one call: 0 when the call may go now, else how long until a
// token is due.
func (l *mallLimiter) take(ctx context.Context) time.Duration {
	if l.shared != nil {
		if ok, wait, err := l.shared.Allow(ctx, string(l.mall)); err == nil {
			if ok {
				return 0
			}
			return max(wait, time.Millisecond)
		}
	}
	now := l.now()
	r := l.local.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}
