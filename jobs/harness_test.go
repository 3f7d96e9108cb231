package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/goleak"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ---- databases ----

// The databases are the service's own (sqltest): the aidmall schema migrated by sqlstore,
// with the connection settings production uses (SQLite: one connection, so every test also
// proves that no job holds a connection while it waits for another), River's tables added
// by Migrate as `aidmall migrate` does.

// openSQLite opens a fresh migrated aidmall SQLite database without River's tables.
func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	return sqltest.SQLite(t).DB.DB
}

// migratedSQLite is openSQLite with River's tables.
func migratedSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db := openSQLite(t)
	if err := Migrate(context.Background(), db, DialectSQLite); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// forEachDB runs test in parallel on SQLite and on PostgreSQL (a schema of its own,
// skipped with the reason when AIDMALL_TEST_POSTGRES is unset), River's tables migrated.
func forEachDB(t *testing.T, test func(t *testing.T, db *sql.DB, dialect string)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, sdb *sqlstore.DB) {
		t.Parallel()
		dialect := DialectSQLite
		if sdb.Dialect == sqlstore.Postgres {
			dialect = DialectPostgres
		}
		if err := Migrate(context.Background(), sdb.DB.DB, dialect); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		test(t, sdb.DB.DB, dialect)
	})
}

// ---- fakes ----

// fakeStore keeps orders in memory and records what the workers did to them.
type fakeStore struct {
	mu        sync.Mutex
	orders    map[int64]*orders.GroupOrder
	submitted []string // "id:mall_order_no"
	rejected  []string // "id:code:message"
	cancelled []int64
	events    map[string]bool // mall/event id
	applied   []string
}

func newFakeStore(list ...*orders.GroupOrder) *fakeStore {
	s := &fakeStore{orders: map[int64]*orders.GroupOrder{}, events: map[string]bool{}}
	for _, o := range list {
		s.orders[o.ID] = o
	}
	return s
}

func (s *fakeStore) Order(_ context.Context, id int64) (*orders.GroupOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %d: %w", id, orders.ErrNotFound)
	}
	c := *o
	c.Lines = append([]orders.Line(nil), o.Lines...)
	return &c, nil
}

func (s *fakeStore) update(id int64, f func(o *orders.GroupOrder)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.orders[id])
}

func (s *fakeStore) MarkSubmitted(_ context.Context, id int64, no string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.submitted = append(s.submitted, fmt.Sprintf("%d:%s", id, no))
	s.orders[id].Submitted, s.orders[id].MallOrderNo = true, no
	return nil
}

func (s *fakeStore) MarkRejected(_ context.Context, id int64, code, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = append(s.rejected, fmt.Sprintf("%d:%s:%s", id, code, msg))
	s.orders[id].RejectCode, s.orders[id].RejectMessage = code, msg
	return nil
}

func (s *fakeStore) MarkCancelled(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled = append(s.cancelled, id)
	s.orders[id].Cancelled, s.orders[id].CancelReq = true, false
	return nil
}

func (s *fakeStore) CancelRefused(_ context.Context, id int64, code, message string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[id].CancelReq, s.orders[id].CancelRefusal = false, code+" "+message
	return nil
}

func (s *fakeStore) ApplyEvent(_ context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(ev.Mall) + "/" + ev.EventID
	if s.events[k] {
		return orders.ApplyResult{Duplicate: true}, nil
	}
	s.events[k] = true
	s.applied = append(s.applied, k)
	return orders.ApplyResult{}, nil
}

func (s *fakeStore) snapshot() (submitted, rejected []string, cancelled []int64, applied []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.submitted...), append([]string(nil), s.rejected...),
		append([]int64(nil), s.cancelled...), append([]string(nil), s.applied...)
}

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
	calls     chan string // "create:OUT" or "cancel:OUT", never blocks
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
	f.mu.Unlock()
	if hook != nil {
		hook(req)
	}
	f.calls <- "create:" + req.OutOrderNo
	if err != nil {
		return orders.CreateResult{}, err
	}
	return orders.CreateResult{MallOrderNo: "M-" + req.OutOrderNo, Status: "ACCEPTED"}, nil
}

func (f *fakeMall) Query(context.Context, string) (orders.MallOrderView, error) {
	return orders.MallOrderView{}, &orders.MallError{Mall: f.mall, NotFound: true}
}

func (f *fakeMall) Cancel(_ context.Context, out, reason string) error {
	f.mu.Lock()
	n := len(f.cancels)
	f.cancels = append(f.cancels, out+"|"+reason)
	err := next(f.cancelErr, n)
	f.mu.Unlock()
	f.calls <- "cancel:" + out
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

// testOrder is a CCB order of two lines: 20 × 68.00 and 5 × 120.50 yuan.
func testOrder(id int64) *orders.GroupOrder {
	return &orders.GroupOrder{
		ID: id, OrderRef: fmt.Sprintf("2019-HQ-%04d", id), BranchCode: "HQ",
		Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
		ShipTo: orders.ShipTo{Name: "王工", Phone: "13800000000", Address: "北京市西城区"},
		Mall:   orders.MallCCB, OutOrderNo: fmt.Sprintf("AM20190312090000%06d", id),
		Status: orders.StatusPending,
		Lines: []orders.Line{
			{LineNo: 1, SKU: "YC-APL-05", ItemID: "CCB-YC-APL-05", Quantity: 20, UnitPrice: money.Fen(6800)},
			{LineNo: 2, SKU: "DB-PPC-01", ItemID: "CCB-DB-PPC-01", Quantity: 5, UnitPrice: money.Fen(12050)},
		},
	}
}

// rig is a runner on a real database with a fake store and fake malls.
type rig struct {
	db     *sql.DB
	r      *Runner
	store  *fakeStore
	ccb    *fakeMall
	abc    *fakeMall
	reg    *prometheus.Registry
	events <-chan *river.Event
}

func newRig(t *testing.T, db *sql.DB, dialect string, store *fakeStore, mutate func(c *Config)) *rig {
	t.Helper()
	g := &rig{db: db, store: store, ccb: newFakeMall(orders.MallCCB), abc: newFakeMall(orders.MallABC), reg: prometheus.NewRegistry()}
	cfg := Config{
		DB: db, Dialect: dialect, Store: store,
		Malls:      Malls{orders.MallCCB: g.ccb, orders.MallABC: g.abc},
		BranchName: func(_ context.Context, code string) (string, error) { return "集团总部机关工会 " + code, nil },
		NotifyURL:  func(m orders.Mall) string { return "http://127.0.0.1:8080/webhooks/" + string(m) },
		Logger:     slog.New(slog.DiscardHandler),
		Workers:    2, PollInterval: 20 * time.Millisecond,
		Backoff:  Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		Metrics:  g.reg,
		testOnly: true,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.r = r
	events, cancel := r.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	g.events = events
	t.Cleanup(cancel)
	return g
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
	tx, err := g.db.BeginTx(ctx, nil)
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

// waitFor returns the first job event that matches, failing the test if none comes in
// 30 s (a bound on a broken test, not a synchronisation delay).
func (g *rig) waitFor(t *testing.T, what string, match func(ev *river.Event) bool) *river.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-g.events:
			if match(ev) {
				return ev
			}
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
