package jobs

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule of the jobs that call a mall: exponential backoff with
// full jitter (a delay drawn uniformly from zero up to a ceiling that doubles per attempt),
// so that retries after a mall outage spread out instead of arriving together.
type Backoff struct {
	// Base is the ceiling after the first attempt; it doubles per attempt. Default 1s.
	Base time.Duration
	// Cap bounds the ceiling. Default 5m.
	Cap time.Duration
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

// Delay returns how long to wait after attempt failed: uniform in [0, Ceiling(attempt)],
// but never less than retryAfter, the wait the mall asked for (ABC's Retry-After), which
// is honoured even beyond Cap.
func (b Backoff) Delay(attempt int, retryAfter time.Duration) time.Duration {
	b = b.withDefaults()
	n := int64(b.Ceiling(attempt))
	if n < math.MaxInt64 {
		n++ // the ceiling itself may be drawn
	}
	return max(time.Duration(b.Rand(n)), retryAfter)
}
