// Package jobs runs aidmall's background work on River (riverqueue) in the same database
// as the orders: dispatching group orders to their malls, asking malls to cancel,
// reconciling the malls' daily statements (ARCHITECTURE.md, Flow of one order, steps 2
// and 4), and maintenance (dispatching stranded orders again, deleting old idempotency
// keys). Jobs are inserted in the caller's *sql.Tx together with the rows they act on, so
// an order is never stored without its dispatch job, nor a job left for a rolled-back
// order.
//
// SQLite goes through River's riversqlite driver and PostgreSQL through riverdatabasesql
// (pgx's database/sql driver), so that both give a river.Client[*sql.Tx]. On PostgreSQL
// with Config.ListenURL the driver is riverdatabasesql.NewWithPgxListener: inserts still
// go through the caller's *sql.Tx and NOTIFY on commit, and one pgx connection per runner
// LISTENs, so a job committed on any replica starts on a free one at once, and a resigning
// leader is replaced at once; PollInterval is then only the fallback. Without it (and
// always on SQLite, which has no LISTEN and runs in one process) the client polls every
// PollInterval. River's leader election makes the periodic jobs (reconcile,
// maintenance) run on one replica at a time, and every job is locked by one replica only.
// On SQLite the *sql.DB must be one sqlstore.Open made (WAL,
// busy_timeout, _txlock=immediate, one connection) so that River's maintenance, the
// workers and the API wait for the write lock instead of failing with SQLITE_BUSY.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"aidmall/adapters/sqlstore"
	"aidmall/bizday"
	"aidmall/orders"
)

// Malls are the mall clients by mall.
type Malls map[orders.Mall]orders.MallClient

// DispatchStore is what the workers read of the system of record (orders.Store).
type DispatchStore interface {
	Order(ctx context.Context, id int64) (*orders.GroupOrder, error)
}

// Orders are the use cases the workers act through (*orders.Service): each records what
// a mall answered or reported on an order, locking it and deriving its status again.
type Orders interface {
	MarkSubmitted(ctx context.Context, id int64, mallOrderNo string) error
	// MarkSubmittedOrder is MarkSubmitted returning the order as it committed.
	MarkSubmittedOrder(ctx context.Context, id int64, mallOrderNo string) (*orders.GroupOrder, error)
	MarkRejected(ctx context.Context, id int64, refusal *orders.MallError) error
	MarkCancelled(ctx context.Context, id int64) error
	// CancelRefused records the mall's final refusal of a cancel.
	CancelRefused(ctx context.Context, id int64, refusal *orders.MallError) error
	// RecordCancelAttempt shows on the order how its cancel request is going (the last
	// error and attempt while the mall cannot be reached; cleared once it is).
	RecordCancelAttempt(ctx context.Context, id int64, a orders.CancelAttempt) error
	// MarkDispatchFailed records that an order's dispatch gave up (status dispatch_failed).
	MarkDispatchFailed(ctx context.Context, id int64, f orders.DispatchFailure) (bool, error)
	// FailoverTarget decides whether an `auto` order moves to another mall, given the
	// malls' health; MoveToMall moves it once the first mall has answered.
	FailoverTarget(ctx context.Context, o *orders.GroupOrder, health map[orders.Mall]orders.MallHealth, now time.Time, after time.Duration) (orders.Mall, string, error)
	MoveToMall(ctx context.Context, id int64, from, to orders.Mall, first orders.FirstMallAnswer) (*orders.GroupOrder, string, error)
	// Apply applies a fulfilment event: the one path every event takes (webhooks,
	// reconciliation, statement imports).
	Apply(ctx context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error)
}

// StatementSource reads one mall's daily statement (对账单) as fulfilment events.
type StatementSource interface {
	// Statement returns the events of Beijing business day day. An error wrapping
	// orders.ErrNotFound means the statement is not published (yet) and is skipped.
	Statement(ctx context.Context, day bizday.Day) ([]orders.FulfilmentEvent, error)
}

// UnreadableKeeper keeps what a mall sent that cannot be used, for an operator
// (sqlstore.Store implements it).
type UnreadableKeeper interface {
	KeepUnreadable(ctx context.Context, mall orders.Mall, body []byte, reason string) error
}

// Config configures a Runner. DB, Dialect, Store, Malls, BranchName, NotifyURL and Logger
// are required; the rest have the defaults given.
type Config struct {
	// DB is the orders' database; River's tables live in it (Migrate).
	DB *sql.DB
	// Dialect is DB's: sqlstore.SQLite or sqlstore.Postgres (sqlstore.DB.Dialect).
	Dialect sqlstore.Dialect
	// Store loads orders.
	Store DispatchStore
	// Orders records what the malls answered and applies statements' events (the orders
	// service).
	Orders Orders
	// Malls are the mall clients, each under its own Mall(). An order for a mall with no
	// client waits: its dispatch job fails and retries until the mall is configured.
	Malls Malls
	// BranchName returns a union branch's name (the buyer_name sent to the mall).
	BranchName func(ctx context.Context, code string) (string, error)
	// NotifyURL returns where mall m posts notifications (the public URL + "/webhooks/" + m).
	NotifyURL func(m orders.Mall) string
	// Logger receives the runner's and River's logs.
	Logger *slog.Logger
	// Workers is how many jobs run at once. Default 4.
	Workers int
	// Breaker is the per-mall circuit breaker. Defaults in BreakerConfig.
	Breaker BreakerConfig
	// MaxAttempts is how many times a dispatch or cancel job runs before it is discarded.
	// Default 25.
	MaxAttempts int
	// Backoff is the retry schedule of dispatch and cancel jobs, with how a mall's
	// Retry-After is capped and spread. Defaults in Backoff.
	Backoff Backoff
	// RescueAfter is how long a job may stay running before River takes it to have been
	// left by a dead process and runs it again (River's RescueStuckJobsAfter). Default 3 min:
	// longer than a mall call may take; a reconcile running longer may run twice, harmless
	// since every event applies once.
	RescueAfter time.Duration
	// MallRates are the malls' own rate limits by mall (MallRate); a mall without one
	// (or with PerSecond 0) is not limited.
	MallRates map[orders.Mall]MallRate
	// PollInterval is how often the runner looks for new jobs: the only way it learns of
	// them without ListenURL, the fallback with it. Default 1s.
	PollInterval time.Duration
	// ListenURL, on PostgreSQL, is DB's database URL (the same database and search_path):
	// the runner opens a pgx pool on it whose one connection LISTENs for River's
	// notifications (new jobs, leadership), closed by Stop. Empty: poll only. Refused on
	// SQLite.
	ListenURL string
	// ReconcileInterval is the period of the reconcile job (run on start too) when
	// Statements is not empty. Default 1h; negative: no periodic job.
	ReconcileInterval time.Duration
	// Metrics, when not nil, receives the runner's collectors (see metrics).
	Metrics prometheus.Registerer
	// Statements are the malls' statement readers, for reconciliation. Optional.
	Statements map[orders.Mall]StatementSource
	// Unreadable keeps the statement events that cannot be applied (orders.ErrInvalid)
	// for an operator (sqlstore.Store.KeepUnreadable, as the webhooks do). Nil: they are
	// only logged and counted.
	Unreadable UnreadableKeeper
	// Maintenance, when not nil, is what the maintenance job (Maintain) reads and cleans:
	// stranded orders and old idempotency keys. Nil: no maintenance job.
	Maintenance MaintenanceStore
	// MaintenanceInterval is the period of the maintenance job (run on start too) when
	// Maintenance is set. Default 5 min; negative: no periodic job (Maintain still works).
	MaintenanceInterval time.Duration
	// StrandedAfter is how old a pending order that never reached its mall must be for
	// maintenance to dispatch it again. Default 10 min.
	StrandedAfter time.Duration
	// FailoverAfter is how long an `auto` order may fail to reach its failing mall before
	// it moves to another mall that lists every line (failover.go). Default
	// orders.DefaultFailoverAfter; negative: never.
	FailoverAfter time.Duration
	// DispatchFailures, when not nil, counts the orders in dispatch_failed per mall for
	// the gauge aidmall_orders_dispatch_failed, read when metrics are scraped.
	DispatchFailures DispatchFailureCounter
	// IdempotencyRetention is how long idempotency keys are kept before maintenance
	// deletes them. Default 24 h (idempotency.Retention).
	IdempotencyRetention time.Duration
	// Now is the clock (Beijing days of reconciliation, retry times, maintenance cut-offs).
	// Default time.Now.
	Now func() time.Time

	// testOnly makes River skip its start-up staggering (tests in this package only).
	testOnly bool
}

// Runner owns the River client and the workers.
type Runner struct {
	client     *river.Client[*sql.Tx]
	driver     riverdriver.Driver[*sql.Tx]
	db         *sql.DB
	store      DispatchStore
	orders     Orders
	malls      Malls
	statements map[orders.Mall]StatementSource
	unreadable UnreadableKeeper
	branchName func(ctx context.Context, code string) (string, error)
	notifyURL  func(m orders.Mall) string
	log        *slog.Logger
	backoff    Backoff
	now        func() time.Time
	gate       *gate
	metrics    *metrics
	maint      maintenance
	// listener is the pool of the LISTEN connection (nil: poll only); Stop closes it.
	listener *pgxpool.Pool
	// failoverAfter is Config.FailoverAfter with its default.
	failoverAfter time.Duration
}

// New checks cfg and builds a Runner (not started). Errors: a missing dependency, an
// unknown dialect, a mall client filed under another mall, or metrics already registered.
func New(cfg Config) (*Runner, error) {
	var errs []error
	need := func(ok bool, what string) {
		if !ok {
			errs = append(errs, errors.New(what))
		}
	}
	need(cfg.DB != nil, "nil DB")
	need(cfg.Store != nil, "nil Store")
	need(cfg.BranchName != nil, "nil BranchName")
	need(cfg.NotifyURL != nil, "nil NotifyURL")
	need(cfg.Logger != nil, "nil Logger")
	for m, c := range cfg.Malls {
		need(c != nil, fmt.Sprintf("nil client for mall %q", m))
		need(m != "" && m != orders.MallAuto, fmt.Sprintf("unknown mall %q", m))
		if c != nil {
			need(c.Mall() == m, fmt.Sprintf("client of mall %q filed under %q", c.Mall(), m))
		}
	}
	for m, s := range cfg.Statements {
		need(s != nil, fmt.Sprintf("nil statement source for mall %q", m))
		_, ok := cfg.Malls[m]
		need(ok, fmt.Sprintf("statement source of mall %q that has no client", m))
	}
	need(cfg.Orders != nil, "nil Orders")
	need(cfg.Workers >= 0 && cfg.MaxAttempts >= 0 && cfg.PollInterval >= 0, "negative Workers, MaxAttempts or PollInterval")
	need(cfg.StrandedAfter >= 0 && cfg.IdempotencyRetention >= 0, "negative StrandedAfter or IdempotencyRetention")
	if len(errs) > 0 {
		return nil, fmt.Errorf("jobs: %w", errors.Join(errs...))
	}
	if cfg.ListenURL != "" && cfg.Dialect != sqlstore.Postgres {
		return nil, fmt.Errorf("jobs: ListenURL is for PostgreSQL, not %q", cfg.Dialect)
	}
	var listener *pgxpool.Pool
	driver, err := newDriver(cfg.DB, cfg.Dialect)
	if err == nil && cfg.ListenURL != "" {
		listener, err = openListener(cfg.ListenURL)
		if err == nil {
			driver = riverdatabasesql.NewWithPgxListener(cfg.DB, listener)
		}
	}
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok && listener != nil {
			listener.Close()
		}
	}()
	met, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	if err := registerDispatchFailed(cfg.Metrics, cfg.DispatchFailures, cfg.Malls); err != nil {
		return nil, err
	}
	r := &Runner{
		driver: driver, db: cfg.DB, store: cfg.Store, orders: cfg.Orders, malls: cfg.Malls, statements: cfg.Statements, unreadable: cfg.Unreadable,
		branchName: cfg.BranchName, notifyURL: cfg.NotifyURL, log: cfg.Logger,
		backoff: cfg.Backoff.withDefaults(), now: cfg.Now, metrics: met, listener: listener,
		failoverAfter: cmp(cfg.FailoverAfter, orders.DefaultFailoverAfter),
		maint: maintenance{
			store:         cfg.Maintenance,
			strandedAfter: cmp(cfg.StrandedAfter, defaultStrandedAfter),
			retention:     cmp(cfg.IdempotencyRetention, defaultIdempotencyRetention),
		},
	}
	if r.now == nil {
		r.now = time.Now
	}
	limits, err := newMallLimiters(cfg.MallRates, r.now)
	if err != nil {
		return nil, err
	}
	r.gate = newGate(cfg.Malls, cfg.Breaker, cfg.Backoff, limits, r.now, cfg.Logger, met)
	// Every possible move is shown from the start (at 0), so that a dashboard or an alert
	// on aidmall_failovers_total has a series before the first failover.
	for from := range cfg.Malls {
		for to := range cfg.Malls {
			if from != to {
				met.failovers.WithLabelValues(string(from), string(to))
			}
		}
	}

	workers := river.NewWorkers()
	if err := errors.Join(
		river.AddWorkerSafely(workers, &dispatchWorker{r: r}),
		river.AddWorkerSafely(workers, &cancelWorker{r: r}),
		river.AddWorkerSafely(workers, &reconcileWorker{r: r}),
		river.AddWorkerSafely(workers, &maintenanceWorker{r: r}),
	); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	poll := cmp(cfg.PollInterval, time.Second)
	rc := &river.Config{
		Logger:            cfg.Logger,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp(cfg.Workers, 4)}},
		Workers:           workers,
		MaxAttempts:       cmp(cfg.MaxAttempts, defaultMaxAttempts),
		FetchPollInterval: poll,
		FetchCooldown:     min(poll, river.FetchCooldownDefault),
		PollOnly:          listener == nil,
		// A job a SIGKILLed replica was running stays "running"; River's default takes it
		// back after an hour, holding its order that long.
		RescueStuckJobsAfter: cmp(cfg.RescueAfter, defaultRescueAfter),
		// River refuses a rescue sooner than the job timeout (a job still running would run
		// twice): a short RescueAfter (the fault harness's) shortens the timeout with it.
		JobTimeout: min(river.JobTimeoutDefault, cmp(cfg.RescueAfter, defaultRescueAfter)),
		TestOnly:   cfg.testOnly,
	}
	if interval := cmp(cfg.ReconcileInterval, time.Hour); len(cfg.Statements) > 0 && interval > 0 {
		rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(
			river.PeriodicInterval(interval),
			func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
			&river.PeriodicJobOpts{ID: "aidmall_reconcile", RunOnStart: true},
		))
	}
	if interval := cmp(cfg.MaintenanceInterval, defaultMaintenanceInterval); cfg.Maintenance != nil && interval > 0 {
		rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(
			river.PeriodicInterval(interval),
			func() (river.JobArgs, *river.InsertOpts) { return MaintenanceArgs{}, nil },
			&river.PeriodicJobOpts{ID: "aidmall_maintenance", RunOnStart: true},
		))
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	r.client = client
	ok = true
	return r, nil
}

// openListener makes the pool the runner's LISTEN connection comes from: River hijacks
// one connection per client and never gives it back, so the pool keeps none of its own
// (pgxpool connects lazily: nothing is dialled here). Error: a URL pgx cannot parse (not
// repeated, as it may hold a password).
func openListener(databaseURL string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("jobs: ListenURL is not a PostgreSQL URL pgx can parse")
	}
	pc.MinConns, pc.MaxConns = 0, 1
	p, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("jobs: listener pool: %w", err)
	}
	return p, nil
}

// Listening reports whether the runner learns of new jobs by LISTEN (ListenURL set on
// PostgreSQL) rather than by polling alone.
func (r *Runner) Listening() bool { return r.listener != nil }

// cmp returns v, or def when v is zero.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func newDriver(db *sql.DB, dialect sqlstore.Dialect) (riverdriver.Driver[*sql.Tx], error) {
	if db == nil {
		return nil, errors.New("jobs: nil DB")
	}
	switch dialect {
	case sqlstore.SQLite:
		return riversqlite.New(db), nil
	case sqlstore.Postgres:
		return riverdatabasesql.New(db), nil
	}
	return nil, fmt.Errorf("jobs: unknown dialect %q (want %q or %q)", dialect, sqlstore.SQLite, sqlstore.Postgres)
}

// Migrate applies River's own migrations (rivermigrate, main line, up to the latest) to db
// for dialect sqlstore.SQLite or sqlstore.Postgres. It is idempotent. Errors: an unknown
// dialect or a failed migration.
func Migrate(ctx context.Context, db *sql.DB, dialect sqlstore.Dialect) error {
	driver, err := newDriver(db, dialect)
	if err != nil {
		return err
	}
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("jobs: migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate river (%s): %w", dialect, err)
	}
	return nil
}

// Start checks that River's schema is migrated and starts working jobs until Stop or until
// ctx ends. Errors: migrations pending (run Migrate) or River failing to start.
func (r *Runner) Start(ctx context.Context) error {
	m, err := rivermigrate.New(r.driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("jobs: migrator: %w", err)
	}
	have, err := m.ExistingVersions(ctx)
	if err != nil {
		return fmt.Errorf("jobs: read river schema version (run migrations first): %w", err)
	}
	all := m.AllVersions()
	if len(all) > 0 && !slices.ContainsFunc(have, func(v rivermigrate.Migration) bool { return v.Version == all[len(all)-1].Version }) {
		return fmt.Errorf("jobs: river schema not migrated to version %d: run migrations first", all[len(all)-1].Version)
	}
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start river: %w", err)
	}
	return nil
}

// hardStopGrace is how long Stop waits for cancelled jobs once ctx has ended.
const hardStopGrace = 5 * time.Second

// Stop stops fetching jobs and waits for running ones to finish. When ctx ends first, it
// cancels the running jobs' contexts, waits up to 5 s more for them to return, and returns
// ctx's error. An interrupted job runs again later (a mall call is idempotent). The
// listener's pool is closed last.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopGrace)
		defer cancel()
		if cerr := r.client.StopAndCancel(hard); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	if r.listener != nil {
		r.listener.Close()
	}
	return err
}

// EnqueueDispatch inserts the dispatch job of each order of orderIDs in tx (the
// transaction that stores the orders): the orders of one shared placement transaction
// (orders.Service.Place's group commit) in one River insert: one statement and one round
// trip for all of them (docs/PERFORMANCE.md, "Intake: a shared placement's dispatch jobs in
// one River insert"). A second call for the same order while its job is live (see DispatchArgs)
// inserts nothing for it. Errors: River's insert error (then none is inserted).
func (r *Runner) EnqueueDispatch(ctx context.Context, tx *sql.Tx, orderIDs ...int64) error {
	return enqueueDispatch(ctx, r.client, tx, orderIDs)
}

func enqueueDispatch(ctx context.Context, client *river.Client[*sql.Tx], tx *sql.Tx, orderIDs []int64) error {
	if tx == nil {
		return errors.New("jobs: EnqueueDispatch needs the order's transaction")
	}
	switch len(orderIDs) {
	case 0:
		return nil
	case 1:
		if _, err := client.InsertTx(ctx, tx, DispatchArgs{OrderID: orderIDs[0]}, nil); err != nil {
			return fmt.Errorf("jobs: enqueue dispatch of order %d: %w", orderIDs[0], err)
		}
		return nil
	}
	params := make([]river.InsertManyParams, len(orderIDs))
	for i, id := range orderIDs {
		params[i] = river.InsertManyParams{Args: DispatchArgs{OrderID: id}}
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: enqueue dispatch of orders %d…%d (%d): %w", orderIDs[0], orderIDs[len(orderIDs)-1], len(orderIDs), err)
	}
	return nil
}

// insertDispatch inserts the dispatch job of order orderID in tx with opts (nil: the
// defaults) and reports whether it did: false when River skipped it as a duplicate of a
// live job of the same order (DispatchArgs' UniqueOpts).
func (r *Runner) insertDispatch(ctx context.Context, tx *sql.Tx, orderID int64, opts *river.InsertOpts) (bool, error) {
	res, err := r.client.InsertTx(ctx, tx, DispatchArgs{OrderID: orderID}, opts)
	if err != nil {
		return false, fmt.Errorf("jobs: enqueue dispatch of order %d: %w", orderID, err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// EnqueueCancel inserts the job that asks the mall to cancel order orderID, in tx (the
// transaction that records the cancel request). Errors: River's insert error.
func (r *Runner) EnqueueCancel(ctx context.Context, tx *sql.Tx, orderID int64, reason string) error {
	return enqueueCancel(ctx, r.client, tx, orderID, reason)
}

func enqueueCancel(ctx context.Context, client *river.Client[*sql.Tx], tx *sql.Tx, orderID int64, reason string) error {
	if tx == nil {
		return errors.New("jobs: EnqueueCancel needs the order's transaction")
	}
	if _, err := client.InsertTx(ctx, tx, CancelArgs{OrderID: orderID, Reason: reason}, nil); err != nil {
		return fmt.Errorf("jobs: enqueue cancel of order %d: %w", orderID, err)
	}
	return nil
}

// defaultRescueAfter is Config.RescueAfter's default.
const defaultRescueAfter = 3 * time.Minute

// defaultMaxAttempts is how many times a dispatch or cancel job runs by default.
const defaultMaxAttempts = 25

// Enqueuer inserts dispatch and cancel jobs in the caller's transaction with an
// insert-only River client. It needs no Runner, so that cmd can build, in order, the
// enqueuer, the store that takes it, the orders service over the store, and the Runner
// that works the jobs and applies statements through the service — each complete when
// made.
type Enqueuer struct{ client *river.Client[*sql.Tx] }

// NewEnqueuer returns an Enqueuer over db (of dialect sqlstore.SQLite or sqlstore.Postgres) whose jobs
// run at most maxAttempts times (Config.MaxAttempts: the same number the Runner is given;
// 0 = its default). Errors: an unknown dialect or River refusing the client.
func NewEnqueuer(db *sql.DB, dialect sqlstore.Dialect, maxAttempts int) (*Enqueuer, error) {
	driver, err := newDriver(db, dialect)
	if err != nil {
		return nil, err
	}
	if maxAttempts < 0 {
		return nil, errors.New("jobs: negative maxAttempts")
	}
	client, err := river.NewClient(driver, &river.Config{Logger: slog.New(slog.DiscardHandler),
		MaxAttempts: cmp(maxAttempts, defaultMaxAttempts)})
	if err != nil {
		return nil, fmt.Errorf("jobs: insert-only river client: %w", err)
	}
	return &Enqueuer{client: client}, nil
}

// EnqueueDispatch is Runner.EnqueueDispatch.
func (e *Enqueuer) EnqueueDispatch(ctx context.Context, tx *sql.Tx, orderIDs ...int64) error {
	return enqueueDispatch(ctx, e.client, tx, orderIDs)
}

// EnqueueCancel is Runner.EnqueueCancel.
func (e *Enqueuer) EnqueueCancel(ctx context.Context, tx *sql.Tx, orderID int64, reason string) error {
	return enqueueCancel(ctx, e.client, tx, orderID, reason)
}

// EnqueueReconcile inserts a reconcile job for days (Beijing business days; none:
// yesterday and today), outside any transaction. Errors: River's insert error.
func (r *Runner) EnqueueReconcile(ctx context.Context, days ...bizday.Day) error {
	args := ReconcileArgs{}
	for _, d := range days {
		args.Days = append(args.Days, d.String())
	}
	if _, err := r.client.Insert(ctx, args, nil); err != nil {
		return fmt.Errorf("jobs: enqueue reconcile: %w", err)
	}
	return nil
}

// Pending returns how many jobs are neither completed, discarded nor cancelled — still to
// run, running or waiting to retry (the demo waits for 0).
func (r *Runner) Pending(ctx context.Context) (int, error) {
	var n int
	err := r.db.QueryRowContext(ctx,
		`SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("jobs: count pending: %w", err)
	}
	return n, nil
}

// Subscribe returns a channel of River's events of the given kinds (e.g.
// river.EventKindJobCompleted) and a function that ends the subscription.
func (r *Runner) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return r.client.Subscribe(kinds...)
}
