package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aidmall/orders"
)

// metrics are the runner's Prometheus collectors:
//
//	aidmall_mall_calls_total{mall,op,outcome}   calls to the malls; op create|cancel,
//	                                            outcome ok|refused|retryable|not_found|breaker_open
//	aidmall_mall_breaker_state{mall}            0 closed, 1 half-open, 2 open
//	aidmall_dispatch_given_up_total{mall}       orders whose dispatch ran out of attempts
//	aidmall_reconcile_events_total{mall,result} statement events; result
//	                                            applied|duplicate|parked|held|invalid
//	aidmall_dispatch_redispatched_total         stranded orders whose dispatch
//	                                            maintenance enqueued again
//	aidmall_idempotency_keys_deleted_total      idempotency keys deleted by maintenance
//	aidmall_failovers_total{from,to}            auto orders moved from a failing mall
//	aidmall_orders_dispatch_failed{mall}        orders in dispatch_failed now (read from
//	                                            the database when scraped; Config.DispatchFailures)
type metrics struct {
	calls          *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	givenUp        *prometheus.CounterVec
	reconciled     *prometheus.CounterVec
	redispatched   prometheus.Counter
	idempotencyDel prometheus.Counter
	failovers      *prometheus.CounterVec
}

// DispatchFailureCounter counts the orders in dispatch_failed per mall
// (sqlstore.Store.DispatchFailedByMall).
type DispatchFailureCounter interface {
	DispatchFailedByMall(ctx context.Context) (map[orders.Mall]int, error)
}

// dispatchFailedGauge is aidmall_orders_dispatch_failed{mall}, counted in the database at
// each scrape (so it is right after a retry by hand or from another process), 0 for every
// connected mall without any.
type dispatchFailedGauge struct {
	desc    *prometheus.Desc
	counter DispatchFailureCounter
	malls   []orders.Mall
}

func (g *dispatchFailedGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *dispatchFailedGauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := g.counter.DispatchFailedByMall(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.desc, err)
		return
	}
	seen := map[orders.Mall]bool{}
	for _, m := range g.malls {
		seen[m] = true
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n[m]), string(m))
	}
	for m, v := range n {
		if !seen[m] {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(v), string(m))
		}
	}
}

// newMetrics makes the collectors and registers them on reg when it is not nil. Error:
// a collector of the same name already registered (two runners on one registry).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aidmall_mall_calls_total", Help: "Calls to the bank malls by outcome.",
		}, []string{"mall", "op", "outcome"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aidmall_mall_breaker_state", Help: "Circuit breaker per mall: 0 closed, 1 half-open, 2 open.",
		}, []string{"mall"}),
		givenUp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aidmall_dispatch_given_up_total", Help: "Orders whose dispatch job ran out of attempts (then dispatch_failed).",
		}, []string{"mall"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aidmall_reconcile_events_total", Help: "Statement events seen by reconciliation, by result.",
		}, []string{"mall", "result"}),
		redispatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aidmall_dispatch_redispatched_total", Help: "Stranded orders whose dispatch job maintenance enqueued again.",
		}),
		idempotencyDel: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aidmall_idempotency_keys_deleted_total", Help: "Idempotency keys (with their stored responses) deleted by maintenance.",
		}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aidmall_failovers_total", Help: "Auto orders moved from a failing mall to another that lists every line.",
		}, []string{"from", "to"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.calls, m.breakerState, m.givenUp, m.reconciled, m.redispatched, m.idempotencyDel, m.failovers} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("jobs: register metrics: %w", err)
	}
	return m, nil
}

// registerDispatchFailed registers aidmall_orders_dispatch_failed on reg (nothing when reg
// or counter is nil), with a 0 for each of malls without any.
func registerDispatchFailed(reg prometheus.Registerer, counter DispatchFailureCounter, malls Malls) error {
	if reg == nil || counter == nil {
		return nil
	}
	g := &dispatchFailedGauge{counter: counter, desc: prometheus.NewDesc("aidmall_orders_dispatch_failed",
		"Orders whose dispatch gave up (status dispatch_failed), waiting for a person to retry or cancel them.", []string{"mall"}, nil)}
	for m := range malls {
		g.malls = append(g.malls, m)
	}
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("jobs: register metrics: %w", err)
	}
	return nil
}
