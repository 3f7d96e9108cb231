package jobs

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule of the jobs that call a mall: exponential backoff with
// full jitter (a delay drawn uniformly from zero up to a ceiling that doubles per attempt),
// so that retries after a mall outage spread out instead of arriving together.
//
// When the mall said how long to wait (Retry-After, from any answer: malls.ParseRetryAfter)
// the delay is that wait, capped at RetryAfterMax, plus a jitter drawn uniformly from
// [0, spread) with spread = max(SpreadMin, wait/4): never earlier than the mall asked, and
// a queue of orders told the same wait comes back over at least SpreadMin, not at one
// instant. Waits with no attempt used (an open breaker, the mall's rate limit: Snooze)
// get a jitter of [0, max(SnoozeJitter, wait/4)).
type Backoff struct {
	// Base is the ceiling after the first attempt; it doubles per attempt. Default 1s.
	Base time.Duration
	// Cap bounds the ceiling. Default 5m.
	Cap time.Duration
	// RetryAfterMax caps a mall's Retry-After (an unsigned answer's may be anything).
	// Default 1h.
	RetryAfterMax time.Duration
	// SpreadMin is the least width of the jitter above a Retry-After. Default 10s.
	SpreadMin time.Duration
	// SnoozeJitter is the least width of the jitter above a snooze. Default 1s.
	SnoozeJitter time.Duration
	// Rand returns a uniform integer in [0, n) for n > 0. Default math/rand/v2's Int64N.
	Rand func(n int64) int64
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = time.Second
	}
	if b.Cap <= 0 {
		b.Cap = 5 * time.Minute
	}
	if b.Cap < b.Base {
		b.Cap = b.Base
	}
	if b.RetryAfterMax <= 0 {
		b.RetryAfterMax = time.Hour
	}
	if b.SpreadMin <= 0 {
		b.SpreadMin = 10 * time.Second
	}
	if b.SnoozeJitter <= 0 {
		b.SnoozeJitter = time.Second
	}
	if b.Rand == nil {
		b.Rand = rand.Int64N
	}
	return b
}

// Ceiling returns the largest delay after attempt (1 for the first): min(Cap,
// Base × 2^(attempt−1)), defaults applied; attempt below 1 counts as 1.
func (b Backoff) Ceiling(attempt int) time.Duration {
	b = b.withDefaults()
	c := b.Base
	for i := 1; i < attempt; i++ {
		if c >= b.Cap/2 {
			return b.Cap
		}
		c *= 2
	}
	return min(c, b.Cap)
}

// Delay returns how long to wait after attempt failed. Without a Retry-After
// (retryAfter 0): uniform in [0, Ceiling(attempt)]. With one: AfterRetryAfter(retryAfter),
// which may exceed Cap.
func (b Backoff) Delay(attempt int, retryAfter time.Duration) time.Duration {
	b = b.withDefaults()
	if retryAfter > 0 {
		return b.AfterRetryAfter(retryAfter)
	}
	n := int64(b.Ceiling(attempt))
	if n < math.MaxInt64 {
		n++ // the ceiling itself may be drawn
	}
	return time.Duration(b.Rand(n))
}

// AfterRetryAfter returns the delay after the mall asked to wait ra: w = min(ra,
// RetryAfterMax), plus a jitter uniform in [0, max(SpreadMin, w/4)).
func (b Backoff) AfterRetryAfter(ra time.Duration) time.Duration {
	b = b.withDefaults()
	w := min(max(ra, 0), b.RetryAfterMax)
	return w + b.jitter(max(b.SpreadMin, w/4))
}

// Snooze returns how long a job waits that was not let through (an open breaker, the
// mall's rate limit) and will be let through after wait: wait plus a jitter uniform in
// [0, max(SnoozeJitter, wait/4)), so that the jobs held back do not all return at once.
func (b Backoff) Snooze(wait time.Duration) time.Duration {
	b = b.withDefaults()
	w := min(max(wait, 0), b.RetryAfterMax)
	return w + b.jitter(max(b.SnoozeJitter, w/4))
}

// jitter is uniform in [0, spread).
func (b Backoff) jitter(spread time.Duration) time.Duration {
	if spread <= 0 {
		return 0
	}
	return time.Duration(b.Rand(int64(spread)))
}
