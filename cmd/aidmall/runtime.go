package main

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	"aidmall/people"
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
	// stopSweep stops the sweeping of expired page sessions.
	stopSweep context.CancelFunc
	// stopWatch stops the pinging of Redis (a no-op without Redis).
	stopWatch context.CancelFunc
}

// redisPingEvery is how often a replica pings Redis to learn it is away or back.
const redisPingEvery = time.Second

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
	// Reports read the replica when AIDMALL_REPORTS_DATABASE_URL names one; on PostgreSQL the
	// ledger's months ahead get their partitions.
	a.readReports(store)
	if err := store.EnsureLedgerPartitions(ctx); err != nil {
		a.log.Warn("ledger partitions ahead not made: entries of those months go to the default partition", "err", err)
	}
	// The dashboard's live updates: every event applied is published on the bus (Redis
	// pub/sub between replicas when REDIS_URL is set, else in process); the pages listen
	// to it through web.Config.Changes (rt.changes). With Redis, its nonce cache, rate
	// limits and bus fall back to this process while it is away (a.redisHealth).
	var changes redisx.Bus = redisx.NewMemoryBus()
	closeChanges := func() error { return nil }
	if h := a.redisHealth; h != nil {
		if err := h.Register(reg); err != nil {
			ln.Close()
			return nil, err
		}
		if changes, closeChanges, err = h.Bus(ctx, "aidmall:dashboard:changes", a.log); err != nil {
			ln.Close()
			return nil, err
		}
	}
	started := false
	defer func() {
		if !started {
			_ = closeChanges()
		}
	}()
	svc, err := orders.NewService(store, ms.infos, nil, orders.WithApplied(web.Notify(changes)), orders.WithPlacedAtWindow(a.cfg.PlacedAt))
	if err != nil {
		ln.Close()
		return nil, err
	}
	// Group commit of the notifications (orders/applyjoin.go): events per transaction is
	// the ratio of the two counters' rates.
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aidmall_notifications_joined_events_total",
			Help: "Notification events applied through group commit (ApplyJoined)."},
			func() float64 { return float64(svc.JoinStats().Events) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aidmall_notifications_joined_transactions_total",
			Help: "Transactions that applied them: events_total / transactions_total is the mean events a commit."},
			func() float64 { return float64(svc.JoinStats().Transactions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aidmall_notifications_waiting",
			Help: "Notification events waiting now for the shared transaction before theirs."},
			func() float64 { return float64(svc.JoinStats().Waiting) }),
		// Group commit of the placements (orders/placejoin.go), alike.
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aidmall_orders_joined_placements_total",
			Help: "Order placements (POST /v1/orders) stored or refused through group commit."},
			func() float64 { return float64(svc.PlaceJoinStats().Orders) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aidmall_orders_joined_transactions_total",
			Help: "Transactions that stored them: placements_total / transactions_total is the mean orders a commit."},
			func() float64 { return float64(svc.PlaceJoinStats().Transactions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aidmall_orders_placements_waiting",
			Help: "Order placements waiting now for the shared transaction before theirs."},
			func() float64 { return float64(svc.PlaceJoinStats().Waiting) }))
	// The malls are told the address actually bound (AIDMALL_LISTEN with port 0 gets one).
	runner, err := newRunner(a, ms, svc, cfg.PublicURLFor(ln.Addr().String()), reg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	defer func() {
		if !started { // closes the runner's LISTEN pool
			_ = runner.Stop(context.WithoutCancel(ctx))
		}
	}()
	rate := redisx.Rate{Events: cfg.RateLimit.Requests, Period: cfg.RateLimit.Period, Burst: cfg.RateLimit.Burst}
	var limiter redisx.RateLimiter
	if a.redisHealth != nil {
		limiter, err = a.redisHealth.Limiter("aidmall:ratelimit:", rate)
	} else {
		limiter, err = redisx.Limiter(nil, "", rate, nil)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	queue, err := review.NewService(a.store, svc, a.cfg.ReviewAfter, nil)
	if err != nil {
		ln.Close()
		return nil, err
	}
	pages, sessions, err := newPages(a, svc, ms, queue, changes)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// The API's keys are read once per KeyCacheTTL per process: revoked or rotated on
	// this replica (its pages) they stop at once, elsewhere (the CLI, other replicas)
	// within KeyCacheTTL.
	a.store.CacheAPIKeys(sqlstore.KeyCacheTTL)
	srv, err := api.New(api.Config{
		Pages: pages,
		Audit: a.store, Review: queue,
		Orders: svc, Auth: a.store, Idempotency: a.store, Reports: labelledReports{a.store}, ReportSet: labelledReportSet{a.store}, Households: a.store, Budgets: svc, Periods: periodsAPI{svc, a.store}, Malls: drivers.Codes(), Webhooks: ms.webhooks, Unreadable: a.store,
		Limiter: limiter, Logger: a.log, Metrics: reg,
		Ready: func(ctx context.Context) error {
			if err := a.db.PingContext(ctx); err != nil {
				return err
			}
			return a.db.CheckSchema(ctx)
		},
		Degraded: func(context.Context) map[string]string {
			if a.redisHealth == nil {
				return nil
			}
			if up, why := a.redisHealth.Status(); !up {
				return map[string]string{"redis": "unreachable: " + why}
			}
			return nil
		},
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	// Not ctx: it ends with SIGTERM, and River would cancel the running jobs at once;
	// Stop drains them instead.
	if a.jobsOff {
		a.log.Info("the job runner is not started: no job of this database is worked")
	} else if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("start jobs: %w", err)
	}
	started = true
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if a.redisHealth != nil {
			a.redisHealth.Watch(watchCtx, redisPingEvery)
		}
	}()
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	go sessions.SweepEvery(sweepCtx, sessionSweepEvery, func(err error) { a.log.Warn("sweep expired sessions", "error", err) })
	rt := &runtime{app: a, runner: runner, svc: svc, ln: ln, done: make(chan error, 1), stopSweep: stopSweep, changes: changes, closeChanges: closeChanges,
		stopWatch: func() { stopWatch(); <-watched },
		http:      &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	rt.http.RegisterOnShutdown(pages.StopLive) // open dashboard streams end, so Shutdown drains
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
		a.log.Warn("no mall is connected: new orders are refused (422 at /mall) until a mall's AIDMALL_<CODE>_URL is set with its keys",
			"registered", drivers.Help())
	}
	return rt, nil
}

// newRunner makes the job runner (not started) for the malls in ms, telling the malls to
// notify publicURL + "/webhooks/{mall}"; statements' events are applied through svc; reg
// takes its metrics and may be nil.
func newRunner(a *app, ms *mallSet, svc *orders.Service, publicURL string, reg prometheus.Registerer) (*jobs.Runner, error) {
	cfg := a.cfg
	// On PostgreSQL the runner LISTENs for new jobs (committed by any replica) on a
	// connection of its own to the same database; polling is then only the fallback.
	listen := ""
	if a.db.Dialect == sqlstore.Postgres {
		listen = cfg.DatabaseURL
	}
	rates, err := mallRates(a, ms.codes)
	if err != nil {
		return nil, err
	}
	runner, err := jobs.New(jobs.Config{
		DB: a.db.DB.DB, Dialect: a.db.Dialect, ListenURL: listen, Store: a.store, Orders: svc, Malls: ms.clients,
		BranchName: func(ctx context.Context, code string) (string, error) {
			b, err := a.store.Branch(ctx, code)
			return b.Name, err
		},
		NotifyURL: func(m orders.Mall) string { return publicURL + "/webhooks/" + string(m) }, Logger: a.log, Workers: cfg.Jobs.Workers, PollInterval: cfg.Jobs.PollInterval, RescueAfter: cfg.Jobs.RescueAfter,
		MaxAttempts:       cfg.Dispatch.MaxAttempts,
		Backoff:           jobs.Backoff{Base: cfg.Dispatch.BackoffBase, Cap: cfg.Dispatch.BackoffCap, RetryAfterMax: cfg.Dispatch.RetryAfterMax},
		MallRates:         rates,
		Breaker:           jobs.BreakerConfig{Failures: cfg.Breaker.Failures, Cooldown: cfg.Breaker.Cooldown},
		ReconcileInterval: reconcileEvery(cfg), Statements: ms.statements, Unreadable: a.store, Metrics: reg,
		Maintenance:   a.store,
		FailoverAfter: failoverAfter(cfg), DispatchFailures: a.store,
	})
	if err != nil {
		return nil, err
	}
	return runner, nil
}

// mallRates are the connected malls' own rate limits (AIDMALL_<CODE>_RATE_LIMIT and
// _RATE_BURST), shared by the replicas through Redis when REDIS_URL is set.
func mallRates(a *app, codes []orders.Mall) (map[orders.Mall]jobs.MallRate, error) {
	rates := map[orders.Mall]jobs.MallRate{}
	for _, m := range codes {
		mc := a.cfg.Mall(m)
		if mc.RateLimit <= 0 {
			continue
		}
		burst := mc.RateBurst
		if burst == 0 {
			burst = mc.RateLimit
		}
		r := jobs.MallRate{PerSecond: mc.RateLimit, Burst: burst}
		if a.redisHealth != nil {
			// Shared by the replicas through Redis, per replica while Redis is away
			// (counted in aidmall_redis_fallbacks_total{part="ratelimit"}).
			shared, err := a.redisHealth.Limiter("aidmall:mallrate:",
				redisx.Rate{Events: mc.RateLimit, Period: time.Second, Burst: burst})
			if err != nil {
				return nil, fmt.Errorf("mall %s rate limit: %w", m, err)
			}
			r.Shared = shared
		}
		rates[m] = r
	}
	return rates, nil
}

// failoverAfter maps the configured failover delay (0 = off) to the runner's (negative = off).
func failoverAfter(cfg config.Config) time.Duration {
	if cfg.Dispatch.FailoverAfter <= 0 {
		return -1
	}
	return cfg.Dispatch.FailoverAfter
}

// reconcileEvery maps the configured reconcile interval (0 = off) to the runner's
// (negative = off).
func reconcileEvery(cfg config.Config) time.Duration {
	if cfg.ReconcileInterval == 0 {
		return -1
	}
	return cfg.ReconcileInterval
}

// sessionSweepEvery is how often expired page sessions are deleted.
const sessionSweepEvery = 10 * time.Minute

// newPages builds the pages for people (api/web) over the app's store: the accounts
// (package people), sessions in the database (so every replica shares them) with cookie
// keys that survive a restart (sessionKeys), the orders service and the connected malls
// with their names.
func newPages(a *app, svc *orders.Service, ms *mallSet, queue *review.Service, changes redisx.Bus) (*web.Server, *web.DBSessions, error) {
	ppl, err := people.NewService(a.store, nil)
	if err != nil {
		return nil, nil, err
	}
	keys, err := sessionKeys(a.cfg, a.log)
	if err != nil {
		return nil, nil, err
	}
	sessions, err := web.NewDBSessions(a.store, people.DefaultSessionPolicy, nil, keys)
	if err != nil {
		return nil, nil, err
	}
	labels := drivers.Labels()
	names := make([]web.MallName, len(ms.codes))
	for i, m := range ms.codes {
		names[i] = web.MallName{Code: m, Name: labels[string(m)]}
	}
	w, err := web.New(web.Config{People: ppl, Sessions: sessions, Orders: svc, Keys: webKeys{a.store}, Malls: names,
		Catalogue: a.store, Timeline: a.store,
		Dashboard: labelledReportSet{a.store}, Changes: changes,
		Review: queue, Imports: officeFiles(a, svc), Budgets: svc, Targets: a.store,
		Periods: periodsAPI{svc, a.store}, Audit: a.store, Households: a.store,
		Logger: a.log, SecureCookies: strings.HasPrefix(a.cfg.PublicURL, "https://")})
	if err != nil {
		return nil, nil, fmt.Errorf("pages: %w", err)
	}
	return w, sessions, nil
}

// sessionKeys are the page session cookie's keys. With AIDMALL_SEAL_KEY set (as every
// replica of a deployment has it) they are derived from it (HKDF-SHA256, one label per
// key), so replicas and restarts share them; otherwise they are derived from a secret
// kept in <data dir>/session.key, made on first use beside seal.key (never committed:
// data/ is the operator's).
func sessionKeys(cfg config.Config, log *slog.Logger) (web.SessionKeys, error) {
	var secret []byte
	if cfg.SealKey != "" {
		k, err := cfg.LoadSealKey(log, nil)
		if err != nil {
			return web.SessionKeys{}, err
		}
		secret = k
	} else {
		path := filepath.Join(cfg.DataDir, "session.key")
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if secret, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err != nil || len(secret) < 32 {
				return web.SessionKeys{}, fmt.Errorf("session key %s: not standard base64 of 32 bytes", path)
			}
		case errors.Is(err, os.ErrNotExist):
			secret = make([]byte, 32)
			if _, err := rand.Read(secret); err != nil {
				return web.SessionKeys{}, err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return web.SessionKeys{}, fmt.Errorf("session key: %w", err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, os.ErrExist) { // another process made it first: use its key
				return sessionKeys(cfg, log)
			}
			if err != nil {
				return web.SessionKeys{}, fmt.Errorf("session key: %w", err)
			}
			_, werr := f.WriteString(base64.StdEncoding.EncodeToString(secret) + "\n")
			if err := errors.Join(werr, f.Close()); err != nil {
				return web.SessionKeys{}, fmt.Errorf("session key: %w", err)
			}
			log.Info("generated the page sessions' key", "file", path)
		default:
			return web.SessionKeys{}, fmt.Errorf("session key: %w", err)
		}
	}
	hashKey, err := hkdf.Key(sha256.New, secret, nil, "aidmall page session cookie hmac v1", 32)
	if err != nil {
		return web.SessionKeys{}, err
	}
	blockKey, err := hkdf.Key(sha256.New, secret, nil, "aidmall page session cookie aes v1", 32)
	if err != nil {
		return web.SessionKeys{}, err
	}
	return web.SessionKeys{HashKey: hashKey, BlockKey: blockKey}, nil
}

// webKeys is the store's API keys as the people page sees them.
type webKeys struct{ st *sqlstore.Store }

func (k webKeys) APIKeys(ctx context.Context) ([]web.APIKey, error) {
	ks, err := k.st.APIKeys(ctx)
	out := make([]web.APIKey, len(ks))
	for i, x := range ks {
		out[i] = webKey(x)
	}
	return out, err
}

func (k webKeys) CreateAPIKey(ctx context.Context, name string, role orders.Role, branch string) (string, web.APIKey, error) {
	tok, x, err := k.st.CreateAPIKey(ctx, name, role, branch)
	return tok, webKey(x), err
}

func (k webKeys) RotateAPIKey(ctx context.Context, id int64) (string, web.APIKey, error) {
	tok, x, err := k.st.RotateAPIKey(ctx, id)
	return tok, webKey(x), err
}

func (k webKeys) RevokeAPIKey(ctx context.Context, id int64) error { return k.st.RevokeAPIKey(ctx, id) }

func webKey(k sqlstore.APIKey) web.APIKey {
	w := web.APIKey{ID: k.ID, Name: k.Name, Role: orders.Role(k.Role), Prefix: k.Prefix, CreatedAt: k.CreatedAt,
		RevokedAt: k.RevokedAt, RotatedAt: k.RotatedAt, LastUsedAt: k.LastUsedAt}
	if k.BranchCode != nil {
		w.BranchCode = *k.BranchCode
	}
	return w
}

// URL is the server's base URL.
func (rt *runtime) URL() string { return "http://" + rt.ln.Addr().String() }

// Stop drains, within ctx: the listener closes (no new connection) and in-flight HTTP
// requests finish, while River stops fetching and its running jobs finish (those still
// running when ctx ends are cancelled and run again later).
func (rt *runtime) Stop(ctx context.Context) error {
	rt.stopSweep()
	jobsDone := make(chan error, 1)
	go func() { jobsDone <- rt.runner.Stop(ctx) }() // the two drains share the deadline
	herr := rt.http.Shutdown(ctx)
	jerr := <-jobsDone
	rt.stopWatch()
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
