package jobs

import (
	"testing"
	"time"
)

func TestBackoff_jitterBounds(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: time.Second, Cap: 5 * time.Minute}
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration // every delay lies in [lo, hi]
	}{
		{"first_retry_within_a_second", 1, 0, 0, time.Second},
		{"second_retry_within_two_seconds", 2, 0, 0, 2 * time.Second},
		{"third_retry_within_four_seconds", 3, 0, 0, 4 * time.Second},
		{"ninth_retry_within_256_seconds", 9, 0, 0, 256 * time.Second},
		{"tenth_retry_is_capped_at_five_minutes", 10, 0, 0, 5 * time.Minute},
		{"last_default_attempt_is_capped", 25, 0, 0, 5 * time.Minute},
		{"huge_attempt_does_not_overflow", 10_000, 0, 0, 5 * time.Minute},
		{"attempt_zero_counts_as_first", 0, 0, 0, time.Second},
		{"retry_after_is_a_floor", 1, 30 * time.Second, 30 * time.Second, 30 * time.Second},
		{"retry_after_below_the_draw_does_not_lower_it", 9, 10 * time.Second, 10 * time.Second, 256 * time.Second},
		{"retry_after_beyond_the_cap_is_honoured", 25, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := b.Ceiling(tt.attempt); tt.retryAfter == 0 && got != tt.hi {
				t.Errorf("Ceiling(%d) = %s, want %s", tt.attempt, got, tt.hi)
			}
			// The draw's extremes: Rand returning 0 and n-1.
			lowest, highest := b, b
			lowest.Rand = func(int64) int64 { return 0 }
			highest.Rand = func(n int64) int64 { return n - 1 }
			if got := lowest.Delay(tt.attempt, tt.retryAfter); got != tt.lo {
				t.Errorf("smallest delay %s, want %s", got, tt.lo)
			}
			if got := highest.Delay(tt.attempt, tt.retryAfter); got != tt.hi {
				t.Errorf("largest delay %s, want %s", got, tt.hi)
			}
			// And real draws stay inside.
			for range 200 {
				if d := b.Delay(tt.attempt, tt.retryAfter); d < tt.lo || d > tt.hi {
					t.Fatalf("delay %s outside [%s, %s]", d, tt.lo, tt.hi)
				}
			}
		})
	}
}

func TestBackoff_jitterSpreadsRetries(t *testing.T) {
	t.Parallel()
	// Full jitter: retries of many jobs after the same failure do not bunch at the
	// ceiling. Over 1000 draws in [0, 4s], a quarter or more fall in each half (the
	// chance of failing this with a uniform draw is far below 1e-50).
	b := Backoff{Base: time.Second, Cap: time.Minute}
	low := 0
	for range 1000 {
		if b.Delay(3, 0) < 2*time.Second {
			low++
		}
	}
	if low < 250 || low > 750 {
		t.Errorf("%d of 1000 delays below half the ceiling; want about half", low)
	}
}

func TestBackoff_defaults(t *testing.T) {
	t.Parallel()
	var b Backoff
	if b.Ceiling(1) != time.Second || b.Ceiling(100) != 5*time.Minute {
		t.Errorf("zero Backoff: ceilings %s and %s, want 1s and 5m", b.Ceiling(1), b.Ceiling(100))
	}
}

// FuzzBackoffDelay: whatever the settings and attempt, a delay is never negative, never
// below the mall's Retry-After, and never above the larger of the cap and Retry-After.
func FuzzBackoffDelay(f *testing.F) {
	f.Add(int64(time.Second), int64(5*time.Minute), 3, int64(0))
	f.Add(int64(1), int64(1), 1_000_000, int64(time.Hour))
	f.Add(int64(-5), int64(0), -1, int64(-1))
	f.Add(int64(1<<62), int64(1<<62), 63, int64(0))
	f.Fuzz(func(t *testing.T, base, cap int64, attempt int, after int64) {
		b := Backoff{Base: time.Duration(base), Cap: time.Duration(cap)}
		ra := max(time.Duration(after), 0)
		d := b.Delay(attempt, ra)
		eff := b.withDefaults()
		if d < 0 || d < ra || d > max(eff.Cap, ra) {
			t.Fatalf("Delay(%d, %s) = %s with base %s cap %s", attempt, ra, d, eff.Base, eff.Cap)
		}
	})
}
