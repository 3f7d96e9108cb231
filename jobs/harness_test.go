package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/goleak"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/orders"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ---- databases ----

// The databases are the service's own (sqltest): the aidmall schema migrated by sqlstore,
// with the connection settings production uses (SQLite: one connection, so every test also
// proves that no job holds a connection while it waits for another), River's tables added
// by Migrate as `aidmall migrate` does.

// withRiver adds River's tables to db.
func withRiver(t *testing.T, db *sqlstore.DB) *sqlstore.DB {
	t.Helper()
	if err := Migrate(context.Background(), db.DB.DB, db.Dialect); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// migratedSQLite is a fresh SQLite database with River's tables.
func migratedSQLite(t *testing.T) *sqlstore.DB { return withRiver(t, sqltest.SQLite(t)) }

// forEachDB runs test in parallel on SQLite and on PostgreSQL (a schema of its own,
// skipped with the reason when AIDMALL_TEST_POSTGRES is unset), River's tables migrated.
func forEachDB(t *testing.T, test func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		test(t, withRiver(t, db))
	})
}

// ---- fakes ----

// The orders are the production store's (sqlstore through sqltest): placed through
// orders.Service, moved along by applying events through it, read back from the store.
// Only the malls are fakes: they are the other side of the wire.

// fakeMall answers Create and Cancel from scripts (one entry per call; the last entry
// repeats) and records every call.
type fakeMall struct {
	mall orders.Mall

	mu        sync.Mutex
	createErr []error // nil entry: success
	cancelErr []error
	creates   []orders.CreateRequest
	cancels   []string // out_order_no|reason
	onCreate  func(req orders.CreateRequest)
	// answer, when set, answers every call before the scripts: a non-nil error is the
	// mall's answer (op "create" or "cancel").
	answer func(op string, out orders.OutOrderNo) error
	calls  chan string // "create:OUT" or "cancel:OUT", never blocks
	// queryErr scripts Query (nil entry: queryView); none: not found, as ever.
	queryErr  []error
	queryView orders.MallOrderView
	queries   []string // out_order_no asked for
}

func newFakeMall(m orders.Mall) *fakeMall {
	return &fakeMall{mall: m, calls: make(chan string, 1000)}
}

func (f *fakeMall) Mall() orders.Mall { return f.mall }

func next(script []error, n int) error {
	if len(script) == 0 {
		return nil
	}
	return script[min(n, len(script)-1)]
}

func (f *fakeMall) Create(_ context.Context, req orders.CreateRequest) (orders.CreateResult, error) {
	f.mu.Lock()
	n := len(f.creates)
	f.creates = append(f.creates, req)
	err := next(f.createErr, n)
	hook := f.onCreate
	if f.answer != nil {
		if aerr := f.answer("create", req.OutOrderNo); aerr != nil {
			err = aerr
		}
	}
	f.mu.Unlock()
	if hook != nil {
		hook(req)
	}
	f.calls <- "create:" + string(req.OutOrderNo)
	if err != nil {
		return orders.CreateResult{}, err
	}
	return orders.CreateResult{MallOrderNo: "M-" + string(req.OutOrderNo), Status: "ACCEPTED"}, nil
}

func (f *fakeMall) Query(_ context.Context, out orders.OutOrderNo) (orders.MallOrderView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.queries)
	f.queries = append(f.queries, string(out))
	if len(f.queryErr) == 0 {
		return orders.MallOrderView{}, &orders.MallError{Mall: f.mall, NotFound: true}
	}
	if err := next(f.queryErr, n); err != nil {
		return orders.MallOrderView{}, err
	}
	return f.queryView, nil
}

// asked returns the out_order_no the mall was queried for, in order.
func (f *fakeMall) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

func (f *fakeMall) Cancel(_ context.Context, out orders.OutOrderNo, reason string) error {
	f.mu.Lock()
	n := len(f.cancels)
	f.cancels = append(f.cancels, string(out)+"|"+reason)
	err := next(f.cancelErr, n)
	if f.answer != nil {
		if aerr := f.answer("cancel", out); aerr != nil {
			err = aerr
		}
	}
	f.mu.Unlock()
	f.calls <- "cancel:" + string(out)
	return err
}

func (f *fakeMall) recorded() (creates []orders.CreateRequest, cancels []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]orders.CreateRequest(nil), f.creates...), append([]string(nil), f.cancels...)
}

// fakeStatements serves statements per day and records which days were asked for.
type fakeStatements struct {
	mu    sync.Mutex
	days  map[string][]orders.FulfilmentEvent // missing day: ErrNotFound
	asked []string
}

func (f *fakeStatements) Statement(_ context.Context, day bizday.Day) ([]orders.FulfilmentEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, day.String())
	evs, ok := f.days[day.String()]
	if !ok {
		return nil, fmt.Errorf("statement %s: %w", day, orders.ErrNotFound)
	}
	return evs, nil
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ---- fixtures ----

// aidOffice is the caller placing and cancelling the tests' orders.
var aidOffice = orders.Caller{KeyID: 1, Name: "扶贫办", Role: orders.RoleAidOffice}

// testOrder is the request of a CCB order of sqltest.Seed's catalogue, two lines: 20 × P1
// at 68.00 and 5 × P2 at 50.00 yuan.
func testOrder(ref string) orders.PlaceRequest {
	return orders.PlaceRequest{
		OrderRef: ref, BranchCode: "HQ", Mall: mallCCB,
		Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
		ShipTo: orders.ShipTo{Name: "王工", Phone: "13800000000", Address: "北京市西城区"},
		Lines:  []orders.PlaceLine{{SKU: "P1", Quantity: 20}, {SKU: "P2", Quantity: 5}},
	}
}

// rig is a runner on the service's own database with the production store and fake malls.
type rig struct {
	db  *sqlstore.DB
	sql *sql.DB
	r   *Runner
	// st is the store orders are placed and cancelled through: it hands their jobs to r
	// inside the order's transaction, as the service does. The runner reads and records
	// through a store of its own over the same database (none of the methods it uses
	// enqueues a job), so that neither needs the other before it exists.
	st     *sqlstore.Store
	svc    *orders.Service
	ccb    *fakeMall
	abc    *fakeMall
	reg    *prometheus.Registry
	events <-chan *river.Event
	seen   []*river.Event // received by waitFor and not matched yet
}

// newRig seeds db (sqltest.Seed: branch HQ, products P1 and P2) and builds a runner over
// it with the production store, as cmd does; mutate adjusts the runner's Config.
func newRig(t *testing.T, db *sqlstore.DB, mutate func(c *Config)) *rig {
	t.Helper()
	g := &rig{db: db, sql: db.DB.DB, ccb: newFakeMall(mallCCB), abc: newFakeMall(mallABC), reg: prometheus.NewRegistry()}
	cfg := Config{
		DB: g.sql, Dialect: db.Dialect,
		Malls: Malls{mallCCB: g.ccb, mallABC: g.abc},
		BranchName: func(ctx context.Context, code string) (string, error) {
			b, err := g.st.Branch(ctx, code)
			return b.Name, err
		},
		NotifyURL: func(m orders.Mall) string { return "http://127.0.0.1:8080/webhooks/" + string(m) },
		Logger:    testLogger(),
		Workers:   2, PollInterval: 20 * time.Millisecond,
		Backoff:  Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		Metrics:  g.reg,
		testOnly: true,
	}
	// Wired as cmd/aidmall wires it: an insert-only enqueuer for the store (its jobs run as
	// many times as the runner is told: made once mutate has set MaxAttempts), the service
	// over the store, the runner over both.
	enq := &laterEnqueuer{}
	g.st = sqltest.Store(t, db, sqltest.WithEnqueuer(enq))
	sqltest.Seed(t, g.st)
	g.svc = service(t, g.st)
	cfg.Store, cfg.Orders, cfg.Unreadable = g.st, g.svc, g.st
	if mutate != nil {
		mutate(&cfg)
	}
	var err error
	if enq.Enqueuer, err = NewEnqueuer(g.sql, db.Dialect, cfg.MaxAttempts); err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.r = r
	events, cancel := r.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
	g.events = events
	t.Cleanup(cancel)
	return g
}

// laterEnqueuer is the rig's Enqueuer, made once the test has configured the runner.
type laterEnqueuer struct{ *Enqueuer }

func service(t *testing.T, st *sqlstore.Store) *orders.Service {
	t.Helper()
	svc, err := orders.NewService(st, []orders.MallInfo{{Code: mallCCB, Limits: ccb.Limits}, {Code: mallABC, Limits: abc.Limits}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// place places req through the service, with its dispatch job, and returns the order.
func (g *rig) place(t *testing.T, req orders.PlaceRequest) *orders.GroupOrder {
	t.Helper()
	return placeOn(t, g.svc, req)
}

// placeWithoutJob places req through a service whose store was made at createdAt (its
// clock) and drops the dispatch job: an order stored long ago whose job is gone
// (discarded and cleaned out, or never run).
func (g *rig) placeWithoutJob(t *testing.T, req orders.PlaceRequest, createdAt time.Time) *orders.GroupOrder {
	t.Helper()
	return placeOn(t, service(t, sqltest.Store(t, g.db, sqltest.WithClock(func() time.Time { return createdAt }))), req)
}

// placeAt places req with its dispatch job through a store whose clock says createdAt.
func (g *rig) placeAt(t *testing.T, req orders.PlaceRequest, createdAt time.Time) *orders.GroupOrder {
	t.Helper()
	st := sqltest.Store(t, g.db, sqltest.WithEnqueuer(g.r), sqltest.WithClock(func() time.Time { return createdAt }))
	return placeOn(t, service(t, st), req)
}

func placeOn(t *testing.T, svc *orders.Service, req orders.PlaceRequest) *orders.GroupOrder {
	t.Helper()
	o, err := svc.Place(context.Background(), aidOffice, req)
	if err != nil {
		t.Fatalf("place %s: %v", req.OrderRef, err)
	}
	return o
}

// order reads order id back from the store.
func (g *rig) order(t *testing.T, id int64) *orders.GroupOrder {
	t.Helper()
	o, err := g.st.Order(context.Background(), id)
	if err != nil {
		t.Fatalf("order %d: %v", id, err)
	}
	return o
}

// cancel asks for order id to be cancelled through the service.
func (g *rig) cancel(t *testing.T, id int64, reason string) {
	t.Helper()
	if _, err := g.svc.Cancel(context.Background(), aidOffice, id, reason); err != nil {
		t.Fatalf("cancel order %d: %v", id, err)
	}
}

// apply applies a mall's event through the service.
func (g *rig) apply(t *testing.T, ev orders.FulfilmentEvent) orders.ApplyResult {
	t.Helper()
	res, err := g.svc.Apply(context.Background(), ev)
	if err != nil {
		t.Fatalf("apply %s %s: %v", ev.Mall, ev.EventID, err)
	}
	return res
}

func (g *rig) start(t *testing.T) {
	t.Helper()
	if err := g.r.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.r.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

// enqueue inserts jobs in one committed transaction.
func (g *rig) enqueue(t *testing.T, f func(tx *sql.Tx) error) {
	t.Helper()
	ctx := context.Background()
	tx, err := g.sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// waitFor returns the first job event that matches, received now or earlier by another
// waitFor that did not want it, failing the test if none comes in 30 s (a bound on a
// broken test, not a synchronisation delay).
func (g *rig) waitFor(t *testing.T, what string, match func(ev *river.Event) bool) *river.Event {
	t.Helper()
	for i, ev := range g.seen {
		if match(ev) {
			g.seen = append(g.seen[:i:i], g.seen[i+1:]...)
			return ev
		}
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-g.events:
			if match(ev) {
				return ev
			}
			g.seen = append(g.seen, ev)
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

// finished matches the event that ends a job of kind for order id: completed, cancelled
// or discarded (not a failure that will be retried).
func finished(kind string, id int64) func(ev *river.Event) bool {
	return func(ev *river.Event) bool {
		if ev.Job.Kind != kind || orderID(ev.Job) != id {
			return false
		}
		switch ev.Job.State {
		case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
			return true
		}
		return false
	}
}

func orderID(j *rivertype.JobRow) int64 {
	var a struct {
		OrderID int64 `json:"order_id"`
	}
	_ = json.Unmarshal(j.EncodedArgs, &a)
	return a.OrderID
}

// The malls of the tests, by code: which malls exist is the drivers' knowledge, not the domain's.
const mallCCB, mallABC = orders.Mall("ccb"), orders.Mall("abc")

func testLogger() *slog.Logger {
	if os.Getenv("JOBS_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
