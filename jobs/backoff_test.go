package jobs

import (
	"math"
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
		// Retry-After: never earlier, spread over max(10s, RA/4) above it.
		{"retry_after_is_a_floor_with_ten_seconds_of_spread", 1, 30 * time.Second, 30 * time.Second, 40*time.Second - 1},
		{"retry_after_replaces_the_backoff_draw", 9, 10 * time.Second, 10 * time.Second, 20*time.Second - 1},
		{"retry_after_beyond_the_cap_is_honoured", 25, 10 * time.Minute, 10 * time.Minute, 10*time.Minute + 150*time.Second - 1},
		{"retry_after_120s_spreads_over_30s", 1, 120 * time.Second, 120 * time.Second, 150*time.Second - 1},
		{"retry_after_beyond_an_hour_is_cut_to_an_hour", 1, 5 * time.Hour, time.Hour, time.Hour + 15*time.Minute - 1},
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

// Many orders told the same Retry-After come back spread over its jitter window, not at
// one instant: 1000 draws after a 120 s wait lie in [120s, 150s) and cover most of it.
func TestBackoff_retryAfterSpreads(t *testing.T) {
	t.Parallel()
	var b Backoff
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	early := 0
	for range 1000 {
		d := b.Delay(1, 120*time.Second)
		lo, hi = min(lo, d), max(hi, d)
		if d < 135*time.Second {
			early++
		}
	}
	if lo < 120*time.Second || hi >= 150*time.Second || hi-lo < 25*time.Second {
		t.Errorf("delays in [%s, %s]; want within [120s, 150s) and spread over 25s or more", lo, hi)
	}
	if early < 350 || early > 650 {
		t.Errorf("%d of 1000 delays in the first half of the window; want about half", early)
	}
}

func TestBackoff_snooze(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		wait   time.Duration
		lo, hi time.Duration
	}{
		{"no_wait_gets_up_to_a_second", 0, 0, time.Second - 1},
		{"short_wait_gets_up_to_a_second_more", 200 * time.Millisecond, 200 * time.Millisecond, 1200*time.Millisecond - 1},
		{"breaker_cool_down_gets_a_quarter_more", 40 * time.Second, 40 * time.Second, 50*time.Second - 1},
		{"negative_wait_is_none", -time.Second, 0, time.Second - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lowest, highest := Backoff{Rand: func(int64) int64 { return 0 }}, Backoff{Rand: func(n int64) int64 { return n - 1 }}
			if got := lowest.Snooze(tt.wait); got != tt.lo {
				t.Errorf("smallest snooze %s, want %s", got, tt.lo)
			}
			if got := highest.Snooze(tt.wait); got != tt.hi {
				t.Errorf("largest snooze %s, want %s", got, tt.hi)
			}
		})
	}
}

// FuzzBackoffDelay: whatever the settings and attempt, a delay is never negative; with a
// Retry-After it is never below the (capped) wait and within its spread above it; without
// one it never exceeds the cap.
func FuzzBackoffDelay(f *testing.F) {
	f.Add(int64(time.Second), int64(5*time.Minute), 3, int64(0))
	f.Add(int64(1), int64(1), 1_000_000, int64(time.Hour))
	f.Add(int64(-5), int64(0), -1, int64(-1))
	f.Add(int64(1<<62), int64(1<<62), 63, int64(0))
	f.Add(int64(time.Second), int64(time.Minute), 1, int64(1<<62))
	f.Fuzz(func(t *testing.T, base, cap int64, attempt int, after int64) {
		b := Backoff{Base: time.Duration(base), Cap: time.Duration(cap)}
		ra := max(time.Duration(after), 0)
		d := b.Delay(attempt, ra)
		eff := b.withDefaults()
		if ra == 0 {
			if d < 0 || d > eff.Cap {
				t.Fatalf("Delay(%d, 0) = %s with base %s cap %s", attempt, d, eff.Base, eff.Cap)
			}
			return
		}
		w := min(ra, eff.RetryAfterMax)
		if d < w || d >= w+max(eff.SpreadMin, w/4) {
			t.Fatalf("Delay(%d, %s) = %s: want in [%s, %s)", attempt, ra, d, w, w+max(eff.SpreadMin, w/4))
		}
	})
}
