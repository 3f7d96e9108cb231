package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"aidmall/orders"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func ok() (orders.CreateResult, error) { return orders.CreateResult{MallOrderNo: "M1"}, nil }

func failWith(err error) func() (orders.CreateResult, error) {
	return func() (orders.CreateResult, error) { return orders.CreateResult{}, err }
}

// An open breaker stays open until the mall's Retry-After, not just its own cool-down:
// the half-open probe goes when the mall asked. Without a Retry-After, the cool-down.
func TestGate_breakerCooldownFollowsRetryAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	unavailable := &orders.MallError{Mall: mallCCB, HTTPStatus: 503, Retryable: true, RetryAfter: 10 * time.Minute}
	tests := []struct {
		name     string
		cooldown time.Duration
		failure  *orders.MallError
		raMax    time.Duration
		wantWait time.Duration // how long the open breaker holds calls
	}{
		// gobreaker's own cool-down is 1 ns here: only the Retry-After holds the breaker.
		{"retry_after_beyond_the_cool_down_holds_it", time.Nanosecond, unavailable, 0, 10 * time.Minute},
		{"retry_after_is_capped", time.Nanosecond, unavailable, 5 * time.Minute, 5 * time.Minute},
		{"without_retry_after_the_cool_down", time.Hour, &orders.MallError{Mall: mallCCB, HTTPStatus: 503, Retryable: true}, 0, time.Hour},
		{"cool_down_beyond_the_retry_after_wins", 2 * time.Hour, unavailable, 0, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _ := newMetrics(nil)
			c := &clock{t: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
			g := newGate(Malls{mallCCB: newFakeMall(mallCCB)}, BreakerConfig{Failures: 2, Cooldown: tt.cooldown},
				Backoff{RetryAfterMax: tt.raMax}, nil, c.now, discardLog(), m)
			for range 2 {
				if _, err := g.call(ctx, mallCCB, "create", failWith(tt.failure)); !errors.Is(err, tt.failure) {
					t.Fatalf("err %v, want the mall's", err)
				}
			}
			called := false
			_, err := g.call(ctx, mallCCB, "create", func() (orders.CreateResult, error) { called = true; return ok() })
			h, isHeld := held(err)
			if !isHeld || called || !errors.Is(err, ErrBreakerOpen) || h.Wait != tt.wantWait {
				t.Fatalf("call after 2 failures: %v (called %v); want held by the breaker for %s", err, called, tt.wantWait)
			}
			if tt.cooldown != time.Nanosecond {
				return // gobreaker's own clock is real time: an hour is not waited for here
			}
			c.add(tt.wantWait - time.Second)
			if _, err := g.call(ctx, mallCCB, "create", ok); !errors.Is(err, ErrBreakerOpen) {
				t.Fatalf("a second before the Retry-After ends: %v, want still held", err)
			}
			c.add(time.Second)
			if _, err := g.call(ctx, mallCCB, "create", ok); err != nil {
				t.Fatalf("once the Retry-After ends: %v, want the probe through", err)
			}
			if g.state(mallCCB) != gobreaker.StateClosed {
				t.Errorf("breaker %s after a good probe, want closed", g.state(mallCCB))
			}
		})
	}
}

// A 429 is the mall up and answering: it paces that job (its Retry-After) but does not
// open the breaker, so the other orders are still sent.
func TestGate_throttlingDoesNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	m, _ := newMetrics(nil)
	g := newGate(Malls{mallABC: newFakeMall(mallABC)}, BreakerConfig{Failures: 2, Cooldown: time.Hour}, Backoff{}, nil, time.Now, discardLog(), m)
	throttled := &orders.MallError{Mall: mallABC, HTTPStatus: 429, Retryable: true, RetryAfter: 2 * time.Minute}
	for range 10 {
		if _, err := g.call(context.Background(), mallABC, "create", failWith(throttled)); !errors.Is(err, throttled) {
			t.Fatalf("err %v, want the 429", err)
		}
	}
	if g.state(mallABC) != gobreaker.StateClosed {
		t.Errorf("breaker %s after ten 429s, want closed", g.state(mallABC))
	}
	if got := value(m.calls.WithLabelValues("abc", "create", "retryable")); got != 10 {
		t.Errorf("retryable calls %v, want 10", got)
	}
}
