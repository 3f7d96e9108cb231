package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"aidmall/adapters/redisx"
	"aidmall/adapters/sqlstore"
	"aidmall/api"
	"aidmall/api/web"
	"aidmall/config"
	"aidmall/jobs"
	"aidmall/orders"
	"aidmall/review"
)

// runtime is a running service: the job runner, the orders service and the HTTP server.
type runtime struct {
	app    *app
	runner *jobs.Runner
	svc    *orders.Service
	http   *http.Server
	ln     net.Listener
	done   chan error
	// changes carries the dashboard's "figures changed" signals (web.Config.Changes).
	changes      redisx.Bus
	closeChanges func() error
}

// startRuntime starts the job runner and the HTTP server on ln (or cfg.Listen when ln is
// nil) for the malls in ms.
func startRuntime(ctx context.Context, a *app, ms *mallSet, ln net.Listener) (*runtime, error) {
	var err error
	if ln == nil {
		if ln, err = net.Listen("tcp", a.cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w (set AIDMALL_LISTEN to another address)", a.cfg.Listen, err)
		}
	}
	cfg := a.cfg
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Built in the order each needs the other: the enqueuer (an insert-only River client),
	// the store that inserts jobs with it, the orders service over that store, and the
	// runner that works the jobs and applies statements through the service.
	enq, err := jobs.NewEnqueuer(a.db.DB.DB, a.db.Dialect, a.cfg.Dispatch.MaxAttempts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	store, err := sqlstore.New(a.db, enq, nil)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// The dashboard's live updates: every event applied is published on the bus (Redis
	// pub/sub between replicas when REDIS_URL is set, else in process); the pages listen
	// to it through web.Config.Changes (rt.changes).
	changes, closeChanges := redisx.NewBus(ctx, a.redis, "aidmall:dashboard:changes", a.log)
	started := false
	defer func() {
		if !started {
			_ = closeChanges()
		}
	}()
	svc, err := orders.NewService(store, ms.infos, nil, orders.WithApplied(web.Notify(changes)))
	if err != nil {
		ln.Close()
		return nil, err
	}
	// The malls are told the address actually bound (AIDMALL_LISTEN with port 0 gets one).
	runner, err := newRunner(a, ms, svc, cfg.PublicURLFor(ln.Addr().String()), reg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	limiter, err := redisx.Limiter(a.redis, "aidmall:ratelimit:", cfg.RateLimit.Requests, cfg.RateLimit.Period, nil)
	if err != nil {
		ln.Close()
		return nil, err
	}
	queue, err := review.NewService(a.store, svc, a.cfg.ReviewAfter, nil)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv, err := api.New(api.Config{
		Audit: a.store, Review: queue,
		Orders: svc, Auth: a.store, Idempotency: a.store, Reports: labelledReports{a.store}, ReportSet: labelledReportSet{a.store}, Households: a.store, Budgets: svc, Periods: periodsAPI{svc, a.store}, Malls: drivers.Codes(), Webhooks: ms.webhooks, Unreadable: a.store,
		Limiter: limiter, Logger: a.log, Metrics: reg,
		Ready: func(ctx context.Context) error {
			if err := a.db.PingContext(ctx); err != nil {
				return err
			}
			return a.db.CheckSchema(ctx)
		},
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	if err := runner.Start(ctx); err != nil {
		ln.Close()
		return nil, fmt.Errorf("start jobs: %w", err)
	}
	started = true
	rt := &runtime{app: a, runner: runner, svc: svc, ln: ln, done: make(chan error, 1), changes: changes, closeChanges: closeChanges,
		http: &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		err := rt.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		rt.done <- err
	}()
	connected := make([]string, len(ms.codes))
	for i, m := range ms.codes {
		connected[i] = string(m)
	}
	a.log.Info("serving", "addr", ln.Addr().String(), "db", string(a.db.Dialect), "malls", strings.Join(connected, ","))
	if len(connected) == 0 {
		a.log.Warn("no mall is connected: orders are refused until one is configured (AIDMALL_<CODE>_URL with its settings)",
			"registered", drivers.Help())
	}
	return rt, nil
}

// newRunner makes the job runner (not started) for the malls in ms, telling the malls to
// notify publicURL + "/webhooks/{mall}"; statements' events are applied through svc; reg
// takes its metrics and may be nil.
func newRunner(a *app, ms *mallSet, svc *orders.Service, publicURL string, reg prometheus.Registerer) (*jobs.Runner, error) {
	cfg := a.cfg
	runner, err := jobs.New(jobs.Config{
		DB: a.db.DB.DB, Dialect: a.db.Dialect, Store: a.store, Orders: svc, Malls: ms.clients,
		BranchName: func(ctx context.Context, code string) (string, error) {
			b, err := a.store.Branch(ctx, code)
			return b.Name, err
		},
		NotifyURL: func(m orders.Mall) string { return publicURL + "/webhooks/" + string(m) }, Logger: a.log, Workers: cfg.Jobs.Workers, PollInterval: cfg.Jobs.PollInterval,
		MaxAttempts:       cfg.Dispatch.MaxAttempts,
		Backoff:           jobs.Backoff{Base: cfg.Dispatch.BackoffBase, Cap: cfg.Dispatch.BackoffCap},
		Breaker:           jobs.BreakerConfig{Failures: cfg.Breaker.Failures, Cooldown: cfg.Breaker.Cooldown},
		ReconcileInterval: reconcileEvery(cfg), Statements: ms.statements, Unreadable: a.store, Metrics: reg,
		Maintenance: a.store,
	})
	if err != nil {
		return nil, err
	}
	return runner, nil
}

// reconcileEvery maps the configured reconcile interval (0 = off) to the runner's
// (negative = off).
func reconcileEvery(cfg config.Config) time.Duration {
	if cfg.ReconcileInterval == 0 {
		return -1
	}
	return cfg.ReconcileInterval
}

// URL is the server's base URL.
func (rt *runtime) URL() string { return "http://" + rt.ln.Addr().String() }

// Stop drains HTTP requests, then stops the job runner, within ctx.
func (rt *runtime) Stop(ctx context.Context) error {
	herr := rt.http.Shutdown(ctx)
	jerr := rt.runner.Stop(ctx)
	return errors.Join(herr, jerr, rt.closeChanges())
}

// Wait returns when the HTTP server stops by itself (an error) or ctx ends.
func (rt *runtime) Wait(ctx context.Context) error {
	select {
	case err := <-rt.done:
		return err
	case <-ctx.Done():
		return nil
	}
}
