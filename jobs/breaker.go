package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"

	"aidmall/orders"
)

// BreakerConfig is the circuit breaker kept per mall around every call to it
// (ARCHITECTURE.md, Flow of one order, step 2). Only retryable failures (timeouts, 5xx,
// CCB 20000, ABC 429/503) count: a final refusal is the mall answering, so it is healthy.
type BreakerConfig struct {
	// Failures is how many consecutive retryable failures open the breaker. Default 5.
	Failures int
	// Cooldown is how long an open breaker refuses calls before it lets a probe through
	// (half-open). Default 30s.
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

// ErrBreakerOpen is returned (wrapped) for a call the mall's breaker refused without
// calling the mall. It is retryable.
var ErrBreakerOpen = errors.New("mall circuit breaker open")

// gate calls the malls, each through its own breaker, and counts the outcomes.
type gate struct {
	breakers map[orders.Mall]*gobreaker.CircuitBreaker[orders.CreateResult]
	log      *slog.Logger
	metrics  *metrics
}

func newGate(malls Malls, cfg BreakerConfig, log *slog.Logger, m *metrics) *gate {
	cfg = cfg.withDefaults()
	g := &gate{breakers: map[orders.Mall]*gobreaker.CircuitBreaker[orders.CreateResult]{}, log: log, metrics: m}
	for mall := range malls {
		g.breakers[mall] = gobreaker.NewCircuitBreaker[orders.CreateResult](gobreaker.Settings{
			Name:        string(mall),
			MaxRequests: uint32(cfg.Probes),
			Timeout:     cfg.Cooldown,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(cfg.Failures) },
			IsSuccessful: func(err error) bool {
				return err == nil || !retryable(err)
			},
			// A job stopped by shutdown says nothing about the mall.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
			OnStateChange: func(name string, from, to gobreaker.State) {
				log.Warn("mall circuit breaker changed state", slog.String("mall", name),
					slog.String("from", from.String()), slog.String("to", to.String()))
				m.breakerState.WithLabelValues(name).Set(float64(to))
			},
		})
		m.breakerState.WithLabelValues(string(mall)).Set(float64(gobreaker.StateClosed))
	}
	return g
}

// call runs f through mall's breaker. An open breaker gives an error wrapping
// ErrBreakerOpen; otherwise f's own result. op names the call in metrics.
func (g *gate) call(mall orders.Mall, op string, f func() (orders.CreateResult, error)) (orders.CreateResult, error) {
	cb, ok := g.breakers[mall]
	if !ok {
		return orders.CreateResult{}, fmt.Errorf("no client for mall %q", mall)
	}
	res, err := cb.Execute(f)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		g.metrics.calls.WithLabelValues(string(mall), op, "breaker_open").Inc()
		return res, fmt.Errorf("%s %s: %w (%v)", mall, op, ErrBreakerOpen, err)
	}
	g.metrics.calls.WithLabelValues(string(mall), op, outcome(err)).Inc()
	return res, err
}

// state returns mall's breaker state (for tests and diagnostics).
func (g *gate) state(mall orders.Mall) gobreaker.State {
	if cb, ok := g.breakers[mall]; ok {
		return cb.State()
	}
	return gobreaker.StateClosed
}

// retryable reports whether err is worth trying again: a retryable *orders.MallError, an
// open breaker, or anything that is not a MallError (a bug or an interrupted call is
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

// retryAfter returns the wait a mall asked for on err (ABC 429 Retry-After), or 0.
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
