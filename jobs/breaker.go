package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/sony/gobreaker/v2"

	"aidmall/orders"
)

// BreakerConfig is the circuit breaker kept per mall around every call to it
// (ARCHITECTURE.md, Flow of one order, step 2). Only retryable failures (timeouts, 5xx,
// CCB 20000, ABC 503) count: a final refusal is the mall answering, so it is healthy, and
// so is a 429 (the mall is up and says "later": its Retry-After paces that job, and the
// mall's rate limit, MallRate, paces the calls). An open breaker stays open for Cooldown
// and at least until the latest Retry-After of the failures it counted (capped at
// Backoff.RetryAfterMax), so its half-open probe goes when the mall asked, not every 30 s.
type BreakerConfig struct {
	// Failures is how many consecutive retryable failures open the breaker. Default 5.
	Failures int
	// Cooldown is how long an open breaker refuses calls before it lets a probe through
	// (half-open), unless the mall asked for longer. Default 30s.
	Cooldown time.Duration
	// Probes is how many calls a half-open breaker lets through at once. Default 1.
	Probes int
}

func (b BreakerConfig) withDefaults() BreakerConfig {
	if b.Failures <= 0 {
		b.Failures = 5
	}
	if b.Cooldown <= 0 {
		b.Cooldown = 30 * time.Second
	}
	if b.Probes <= 0 {
		b.Probes = 1
	}
	return b
}

// ErrBreakerOpen is returned (wrapped in a *HeldError) for a call the mall's breaker
// refused without calling the mall.
var ErrBreakerOpen = errors.New("mall circuit breaker open")

// ErrRateLimited is returned (wrapped in a *HeldError) for a call held back by the mall's
// own rate limit (MallRate) without calling the mall.
var ErrRateLimited = errors.New("mall rate limit reached")

// HeldError is a call the gate did not make: the mall's breaker is open or its rate limit
// is reached. Wait is how long until it would let the call through (0: unknown, soon).
// The workers snooze on it (river.JobSnooze), which uses no attempt.
type HeldError struct {
	Mall orders.Mall
	Op   string
	Err  error // ErrBreakerOpen or ErrRateLimited
	Wait time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s %s: %v (for %s)", e.Mall, e.Op, e.Err, e.Wait.Round(time.Millisecond))
}

func (e *HeldError) Unwrap() error { return e.Err }

// held returns the *HeldError in err's chain, if any.
func held(err error) (*HeldError, bool) {
	var h *HeldError
	ok := errors.As(err, &h)
	return h, ok
}

// gate calls the malls, each through its own breaker and rate limit, and counts the
// outcomes.
type gate struct {
	breakers map[orders.Mall]*gobreaker.CircuitBreaker[orders.CreateResult]
	limits   map[orders.Mall]*mallLimiter // malls without a rate limit have none
	cooldown time.Duration
	raMax    time.Duration // Backoff.RetryAfterMax
	now      func() time.Time
	log      *slog.Logger
	metrics  *metrics

	mu       sync.Mutex
	openedAt map[orders.Mall]time.Time // when the breaker last opened
	raUntil  map[orders.Mall]time.Time // latest end of a Retry-After of a counted failure
}

func newGate(malls Malls, cfg BreakerConfig, backoff Backoff, limits map[orders.Mall]*mallLimiter, now func() time.Time, log *slog.Logger, m *metrics) *gate {
	cfg = cfg.withDefaults()
	g := &gate{breakers: map[orders.Mall]*gobreaker.CircuitBreaker[orders.CreateResult]{}, limits: limits,
		cooldown: cfg.Cooldown, raMax: backoff.withDefaults().RetryAfterMax, now: now, log: log, metrics: m,
		openedAt: map[orders.Mall]time.Time{}, raUntil: map[orders.Mall]time.Time{}}
	for mall := range malls {
		g.breakers[mall] = gobreaker.NewCircuitBreaker[orders.CreateResult](gobreaker.Settings{
			Name:        string(mall),
			MaxRequests: uint32(cfg.Probes),
			Timeout:     cfg.Cooldown,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(cfg.Failures) },
			IsSuccessful: func(err error) bool {
				return err == nil || !retryable(err)
			},
			// A job stopped by shutdown says nothing about the mall; a 429 says it is up.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) || throttled(err) },
			OnStateChange: func(name string, from, to gobreaker.State) {
				if to == gobreaker.StateOpen {
					g.mu.Lock()
					g.openedAt[orders.Mall(name)] = g.now()
					g.mu.Unlock()
				}
				log.Warn("mall circuit breaker changed state", slog.String("mall", name),
					slog.String("from", from.String()), slog.String("to", to.String()))
				m.breakerState.WithLabelValues(name).Set(float64(to))
			},
		})
		m.breakerState.WithLabelValues(string(mall)).Set(float64(gobreaker.StateClosed))
	}
	return g
}

// call runs f through mall's breaker and rate limit. A call not made gives a *HeldError
// (ErrBreakerOpen or ErrRateLimited, with the wait); otherwise f's own result. op names
// the call in metrics.
func (g *gate) call(ctx context.Context, mall orders.Mall, op string, f func() (orders.CreateResult, error)) (orders.CreateResult, error) {
	cb, ok := g.breakers[mall]
	if !ok {
		return orders.CreateResult{}, fmt.Errorf("no client for mall %q", mall)
	}
	if cb.State() != gobreaker.StateClosed {
		if wait := g.openFor(mall); wait > 0 {
			return g.hold(mall, op, ErrBreakerOpen, wait)
		}
	}
	if l := g.limits[mall]; l != nil {
		if wait := l.take(ctx); wait > 0 {
			return g.hold(mall, op, ErrRateLimited, wait)
		}
	}
	res, err := cb.Execute(func() (orders.CreateResult, error) {
		res, err := f()
		g.noteRetryAfter(mall, err)
		return res, err
	})
	switch {
	case errors.Is(err, gobreaker.ErrOpenState):
		return g.hold(mall, op, ErrBreakerOpen, g.openFor(mall))
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		// Half-open with its probe in flight: the probe's answer comes within a call's
		// timeout; look again in a second or so (Backoff.Snooze adds the jitter).
		return g.hold(mall, op, ErrBreakerOpen, time.Second)
	}
	g.metrics.calls.WithLabelValues(string(mall), op, outcome(err)).Inc()
	return res, err
}

func (g *gate) hold(mall orders.Mall, op string, why error, wait time.Duration) (orders.CreateResult, error) {
	label := "breaker_open"
	if why == ErrRateLimited {
		label = "rate_limited"
	}
	g.metrics.calls.WithLabelValues(string(mall), op, label).Inc()
	return orders.CreateResult{}, &HeldError{Mall: mall, Op: op, Err: why, Wait: max(wait, 0)}
}

// noteRetryAfter remembers the end of the Retry-After of a failure the breaker counts,
// so that an open breaker stays open at least that long.
func (g *gate) noteRetryAfter(mall orders.Mall, err error) {
	ra := retryAfter(err)
	if ra <= 0 || !retryable(err) || throttled(err) {
		return
	}
	until := g.now().Add(min(ra, g.raMax))
	g.mu.Lock()
	if until.After(g.raUntil[mall]) {
		g.raUntil[mall] = until
	}
	g.mu.Unlock()
}

// openFor is how long mall's breaker, not closed, still refuses calls: until Cooldown
// after it opened, and at least until the latest Retry-After it counted.
func (g *gate) openFor(mall orders.Mall) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	until := g.openedAt[mall].Add(g.cooldown)
	if ra := g.raUntil[mall]; ra.After(until) {
		until = ra
	}
	return until.Sub(now)
}

// throttled reports whether err is the mall's 429 (too many requests).
func throttled(err error) bool {
	var me *orders.MallError
	return errors.As(err, &me) && me.HTTPStatus == http.StatusTooManyRequests
}

// state returns mall's breaker state (for tests and diagnostics).
func (g *gate) state(mall orders.Mall) gobreaker.State {
	if cb, ok := g.breakers[mall]; ok {
		return cb.State()
	}
	return gobreaker.StateClosed
}

// retryable reports whether err is worth trying again: a retryable *orders.MallError, a
// held call, or anything that is not a MallError (a bug or an interrupted call is
// treated as transient; MaxAttempts bounds it).
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var me *orders.MallError
	if errors.As(err, &me) {
		return me.Retryable
	}
	return true
}

// retryAfter returns the wait a mall asked for on err (its answer's Retry-After), or 0.
func retryAfter(err error) time.Duration {
	var me *orders.MallError
	if errors.As(err, &me) && me.RetryAfter > 0 {
		return me.RetryAfter
	}
	return 0
}

func outcome(err error) string {
	var me *orders.MallError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &me) && me.NotFound:
		return "not_found"
	case !retryable(err):
		return "refused"
	}
	return "retryable"
}

// snooze answers a call the gate held back (h): the job runs again once the breaker or
// the rate limit would let it through, plus jitter (Backoff.Snooze), and River counts no
// attempt for it (river.JobSnooze), so a long outage or a tight limit never makes a job
// give up.
func (r *Runner) snooze(log *slog.Logger, h *HeldError) error {
	d := r.backoff.Snooze(h.Wait)
	level := slog.LevelInfo
	if errors.Is(h, ErrRateLimited) {
		level = slog.LevelDebug
	}
	log.Log(context.Background(), level, "mall call held back; waiting without using an attempt",
		slog.String("why", h.Err.Error()), slog.Duration("for", d))
	return river.JobSnooze(d)
}
