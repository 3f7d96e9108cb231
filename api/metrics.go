package api

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors:
//
//	aidmall_http_requests_total{route,method,status}       counter
//	aidmall_http_request_duration_seconds{route,method}    histogram
//	aidmall_webhook_events_total{mall,result}              counter; result is applied,
//	                                                       duplicate, duplicate_differs (an
//	                                                       event id already recorded with
//	                                                       other content: acknowledged, not
//	                                                       applied, logged as a warning),
//	                                                       parked, held, rejected
//	                                                       (verification failed),
//	                                                       kept_unreadable (verified but
//	                                                       unusable, kept and acknowledged)
//	                                                       or failed (Apply, or keeping an
//	                                                       unreadable one, failed)
//	aidmall_webhook_refusals_total{mall,reason}            counter; reason is too_large,
//	                                                       malformed, bad_signature or stale
//	                                                       (malls.Refusal): what was refused
//	                                                       with a 4xx and not stored
//
// route is the route template (/v1/orders/:id), never the raw path, so that the label set
// stays bounded; paths no route matches share the route "unmatched".
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	webhooks *prometheus.CounterVec
	refusals *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aidmall_http_requests_total",
			Help: "HTTP requests answered, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aidmall_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, in seconds, by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aidmall_webhook_events_total",
			Help: "Mall notifications received, by mall and result (applied, duplicate, duplicate_differs, parked, held, rejected, kept_unreadable, failed).",
		}, []string{"mall", "result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aidmall_webhook_refusals_total",
			Help: "Mall notifications refused with a 4xx and not stored, by mall and reason (too_large, malformed, bad_signature, stale).",
		}, []string{"mall", "reason"}),
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, m.latency); err != nil {
		return nil, err
	}
	if m.webhooks, err = register(reg, m.webhooks); err != nil {
		return nil, err
	}
	if m.refusals, err = register(reg, m.refusals); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or reuses the identical collector a previous server registered
// on the same registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("api: register metrics: %w", err)
}

func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) webhookEvent(mall, result string) {
	m.webhooks.WithLabelValues(mall, result).Inc()
}

func (m *metrics) webhookRefused(mall, reason string) {
	m.refusals.WithLabelValues(mall, reason).Inc()
}
