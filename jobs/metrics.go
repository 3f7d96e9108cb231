package jobs

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
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
type metrics struct {
	calls          *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	givenUp        *prometheus.CounterVec
	reconciled     *prometheus.CounterVec
	redispatched   prometheus.Counter
	idempotencyDel prometheus.Counter
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
			Name: "aidmall_dispatch_given_up_total", Help: "Orders whose dispatch job ran out of attempts (still pending).",
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
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.calls, m.breakerState, m.givenUp, m.reconciled, m.redispatched, m.idempotencyDel} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("jobs: register metrics: %w", err)
	}
	return m, nil
}
