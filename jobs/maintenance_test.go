package jobs

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/orders"
)

// fakeMaintenance answers StrandedOrders from a fakeStore's orders as sqlstore does
// (pending, not at the mall, not rejected or cancelled, created before the cut-off,
// oldest first) and keeps idempotency keys as their creation times.
type fakeMaintenance struct {
	orders *fakeStore

	mu          sync.Mutex
	keys        []time.Time
	strandedErr error
	strandedAt  []time.Time // `before` of each StrandedOrders call
	deletedAt   []time.Time // t of each DeleteIdempotencyBefore call
}

func (f *fakeMaintenance) StrandedOrders(_ context.Context, before time.Time, limit int) ([]int64, error) {
	f.mu.Lock()
	f.strandedAt = append(f.strandedAt, before)
	err := f.strandedErr
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := f.orders
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*orders.GroupOrder
	for _, o := range s.orders {
		if o.Status == orders.StatusPending && !o.Submitted && o.MallOrderNo == "" && o.RejectCode == "" &&
			!o.Cancelled && o.CreatedAt.Before(before) {
			found = append(found, o)
		}
	}
	slices.SortFunc(found, func(a, b *orders.GroupOrder) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	var ids []int64
	for _, o := range found[:min(limit, len(found))] {
		ids = append(ids, o.ID)
	}
	return ids, nil
}

func (f *fakeMaintenance) DeleteIdempotencyBefore(_ context.Context, t time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletedAt = append(f.deletedAt, t)
	kept := f.keys[:0]
	for _, k := range f.keys {
		if !k.Before(t) {
			kept = append(kept, k)
		}
	}
	n := int64(len(f.keys) - len(kept))
	f.keys = kept
	return n, nil
}

func (f *fakeMaintenance) calls() (stranded, deleted int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.strandedAt), len(f.deletedAt)
}

// strandedOrder is testOrder(id) created an hour ago: past any StrandedAfter used here.
func strandedOrder(id int64) *orders.GroupOrder {
	o := testOrder(id)
	o.CreatedAt = time.Now().Add(-time.Hour)
	return o
}

// dispatchJobStates returns the states of the dispatch jobs in river_job, sorted.
func dispatchJobStates(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT state FROM river_job WHERE kind = 'aidmall_dispatch' ORDER BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var states []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		states = append(states, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return states
}

func TestMaintain_redispatchesAnOrderWhoseJobWasDiscarded(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		ctx := context.Background()
		store := newFakeStore(strandedOrder(1))
		maint := &fakeMaintenance{orders: store}
		g := newRig(t, db, dialect, store, func(c *Config) {
			c.MaxAttempts = 2
			c.Maintenance = maint
			c.MaintenanceInterval = -1 // run by hand below
		})
		// The mall is down for the first job's two attempts, back for the next call.
		g.ccb.createErr = []error{busy, busy, nil}
		g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(ctx, tx, 1) })
		g.start(t)
		if ev := g.waitFor(t, "first dispatch", finished(DispatchArgs{}.Kind(), 1)); ev.Job.State != rivertype.JobStateDiscarded {
			t.Fatalf("first dispatch job %s, want discarded", ev.Job.State)
		}

		c, err := g.r.Maintain(ctx)
		if err != nil || c.Stranded != 1 || c.Redispatched != 1 || c.Live != 0 {
			t.Fatalf("first Maintain = %+v, %v; want the stranded order dispatched again", c, err)
		}
		// Right after, the new job is available, running or done: never a second one.
		if c, err := g.r.Maintain(ctx); err != nil || c.Redispatched != 0 {
			t.Errorf("second Maintain = %+v, %v; want nothing dispatched again", c, err)
		}
		if ev := g.waitFor(t, "second dispatch", finished(DispatchArgs{}.Kind(), 1)); ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("second dispatch job %s, want completed", ev.Job.State)
		}
		if c, err := g.r.Maintain(ctx); err != nil || c.Stranded != 0 {
			t.Errorf("Maintain after submission = %+v, %v; want nothing stranded", c, err)
		}

		creates, _ := g.ccb.recorded()
		submitted, _, cancelled, _ := store.snapshot()
		if len(creates) != 3 || !reflect.DeepEqual(submitted, []string{"1:M-AM20190312090000000001"}) || len(cancelled) != 0 {
			t.Errorf("creates %d, submitted %v, cancelled %v; want 2 failed + 1 good create, submitted once", len(creates), submitted, cancelled)
		}
		if got := dispatchJobStates(t, db); !reflect.DeepEqual(got, []string{"completed", "discarded"}) {
			t.Errorf("dispatch jobs %v, want the discarded one and one completed", got)
		}
		if got := value(g.r.metrics.redispatched); got != 1 {
			t.Errorf("redispatched metric %v, want 1", got)
		}
	})
}

func TestMaintain_leavesAnOrderWithALiveJobAlone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// live starts the runner or not and leaves order 1's dispatch job in the state
		// under test; it returns a function that lets the job finish.
		live        func(t *testing.T, g *rig) (finish func())
		wantState   string
		wantCreates int
	}{
		{
			name: "retryable_after_a_failed_attempt",
			live: func(t *testing.T, g *rig) func() {
				g.ccb.createErr = []error{busy}
				g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(context.Background(), tx, 1) })
				g.start(t)
				g.waitFor(t, "failed attempt", func(ev *river.Event) bool {
					return ev.Job.Kind == DispatchArgs{}.Kind() && ev.Job.State == rivertype.JobStateRetryable
				})
				return func() {}
			},
			wantState:   "retryable",
			wantCreates: 1,
		},
		{
			name: "scheduled_for_later",
			live: func(t *testing.T, g *rig) func() {
				g.enqueue(t, func(tx *sql.Tx) error {
					_, err := g.r.insertDispatch(context.Background(), tx, 1, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
					return err
				})
				return func() {}
			},
			wantState: "scheduled",
		},
		{
			name: "running_while_the_mall_answers_slowly",
			live: func(t *testing.T, g *rig) func() {
				entered, release := make(chan struct{}), make(chan struct{})
				g.ccb.onCreate = func(orders.CreateRequest) { close(entered); <-release }
				g.enqueue(t, func(tx *sql.Tx) error { return g.r.EnqueueDispatch(context.Background(), tx, 1) })
				g.start(t)
				select {
				case <-entered:
				case <-time.After(30 * time.Second):
					t.Fatal("dispatch never called the mall")
				}
				return func() {
					close(release)
					g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), 1))
				}
			},
			wantState:   "completed",
			wantCreates: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
				store := newFakeStore(strandedOrder(1))
				g := newRig(t, db, dialect, store, func(c *Config) {
					c.Maintenance = &fakeMaintenance{orders: store}
					c.MaintenanceInterval = -1
					// A failed attempt waits the full hour: the job stays retryable.
					c.Backoff = Backoff{Base: time.Hour, Cap: time.Hour, Rand: func(n int64) int64 { return n - 1 }}
				})
				finish := tt.live(t, g)
				c, err := g.r.Maintain(context.Background())
				finish()
				if err != nil || c.Stranded != 1 || c.Redispatched != 0 || c.Live != 1 {
					t.Errorf("Maintain = %+v, %v; want the order's live job left alone", c, err)
				}
				if got := dispatchJobStates(t, db); !reflect.DeepEqual(got, []string{tt.wantState}) {
					t.Errorf("dispatch jobs %v, want only the one %s job", got, tt.wantState)
				}
				if creates, _ := g.ccb.recorded(); len(creates) != tt.wantCreates {
					t.Errorf("mall saw %d creates, want %d", len(creates), tt.wantCreates)
				}
				if got := value(g.r.metrics.redispatched); got != 0 {
					t.Errorf("redispatched metric %v, want 0", got)
				}
			})
		})
	}
}

func TestMaintain_periodicJobRedispatchesOnStart(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		// Order 1 was stored but its dispatch job is gone (discarded and cleaned out).
		store := newFakeStore(strandedOrder(1))
		maint := &fakeMaintenance{orders: store}
		g := newRig(t, db, dialect, store, func(c *Config) { c.Maintenance = maint })
		g.start(t)
		if ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), 1)); ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("dispatch job %s, want completed", ev.Job.State)
		}
		if submitted, _, _, _ := store.snapshot(); !reflect.DeepEqual(submitted, []string{"1:M-AM20190312090000000001"}) {
			t.Errorf("submitted %v, want order 1 placed once", submitted)
		}
		if s, d := maint.calls(); s == 0 || d == 0 {
			t.Errorf("maintenance store called %d, %d times; want the periodic run to have used it", s, d)
		}
	})
}

func TestMaintain_intervalOffRunsNoPeriodicJob(t *testing.T) {
	t.Parallel()
	db := migratedSQLite(t)
	store := newFakeStore(strandedOrder(1))
	maint := &fakeMaintenance{orders: store}
	ccb, _ := reconcileSources()
	g := newRig(t, db, DialectSQLite, store, func(c *Config) {
		c.Maintenance = maint
		c.MaintenanceInterval = -1
		// The reconcile job is inserted on start in the same batch as every periodic job
		// that runs on start: once it has run, a maintenance job would exist too.
		c.Statements = map[orders.Mall]StatementSource{orders.MallCCB: ccb}
		c.Now = func() time.Time { return reconcileNow }
	})
	g.start(t)
	g.waitFor(t, "periodic reconcile", func(ev *river.Event) bool { return ev.Job.Kind == ReconcileArgs{}.Kind() })
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'aidmall_maintenance'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d maintenance jobs (%v), want none", n, err)
	}
	if s, d := maint.calls(); s+d != 0 {
		t.Errorf("maintenance store called (%d stranded, %d delete), want never", s, d)
	}
	if creates, _ := g.ccb.recorded(); len(creates) != 0 {
		t.Errorf("stranded order dispatched %d times with maintenance off", len(creates))
	}
}

func TestMaintain_deletesOldIdempotencyKeys(t *testing.T) {
	t.Parallel()
	now := time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)
	keys := []time.Time{
		now.Add(-48 * time.Hour),
		now.Add(-24*time.Hour - time.Second),
		now.Add(-24 * time.Hour), // exactly 24 h: kept (created before the cut-off only)
		now.Add(-3 * time.Hour),
		now.Add(-time.Minute),
	}
	tests := []struct {
		name        string
		retention   time.Duration
		strandedErr error
		wantCutOff  time.Time
		wantDeleted int64
		wantErr     bool
	}{
		{name: "default_keeps_24_hours", wantCutOff: now.Add(-24 * time.Hour), wantDeleted: 2},
		{name: "configured_retention", retention: 2 * time.Hour, wantCutOff: now.Add(-2 * time.Hour), wantDeleted: 4},
		{name: "deleted_even_when_stranded_orders_fail", strandedErr: errors.New("db down"), wantCutOff: now.Add(-24 * time.Hour), wantDeleted: 2, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			maint := &fakeMaintenance{orders: newFakeStore(), keys: slices.Clone(keys), strandedErr: tt.strandedErr}
			g := newRig(t, openSQLite(t), DialectSQLite, newFakeStore(), func(c *Config) {
				c.Maintenance = maint
				c.IdempotencyRetention = tt.retention
				c.Now = func() time.Time { return now }
			})
			c, err := g.r.Maintain(context.Background())
			if (err != nil) != tt.wantErr {
				t.Errorf("Maintain error %v, want error %v", err, tt.wantErr)
			}
			if c.IdempotencyDeleted != tt.wantDeleted || len(maint.keys) != len(keys)-int(tt.wantDeleted) {
				t.Errorf("deleted %d (%d kept), want %d", c.IdempotencyDeleted, len(maint.keys), tt.wantDeleted)
			}
			if !reflect.DeepEqual(maint.deletedAt, []time.Time{tt.wantCutOff}) {
				t.Errorf("cut-off %v, want %v", maint.deletedAt, tt.wantCutOff)
			}
			if got := value(g.r.metrics.idempotencyDel); got != float64(tt.wantDeleted) {
				t.Errorf("deleted metric %v, want %d", got, tt.wantDeleted)
			}
		})
	}
}

func TestMaintain_strandedCutOffIsStrandedAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2019, 3, 12, 9, 0, 0, 0, time.UTC)
	young, old := testOrder(1), testOrder(2)
	young.CreatedAt, old.CreatedAt = now.Add(-9*time.Minute), now.Add(-11*time.Minute)
	store := newFakeStore(young, old)
	maint := &fakeMaintenance{orders: store}
	db := migratedSQLite(t)
	g := newRig(t, db, DialectSQLite, store, func(c *Config) {
		c.Maintenance = maint
		c.Now = func() time.Time { return now }
	})
	c, err := g.r.Maintain(context.Background())
	if err != nil || c.Stranded != 1 || c.Redispatched != 1 {
		t.Fatalf("Maintain = %+v, %v; want only the 11-minute-old order", c, err)
	}
	if !reflect.DeepEqual(maint.strandedAt, []time.Time{now.Add(-10 * time.Minute)}) {
		t.Errorf("stranded cut-off %v, want 10 min before now", maint.strandedAt)
	}
	res, err := g.r.client.JobList(context.Background(), river.NewJobListParams().Kinds(DispatchArgs{}.Kind()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != 1 || orderID(res.Jobs[0]) != 2 || !redispatched(res.Jobs[0]) {
		t.Errorf("dispatch jobs %+v, want one, of order 2, marked as a redispatch", res.Jobs)
	}
}

func TestMaintain_redispatchWithCancelRequestedLeavesItToTheCancelJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		// An earlier dispatch job may have reached the mall before it gave up; a cancel
		// was asked for since. Only the cancel job, which asks the mall, may decide.
		o := strandedOrder(1)
		o.CancelReq = true
		store := newFakeStore(o)
		g := newRig(t, db, dialect, store, func(c *Config) {
			c.Maintenance = &fakeMaintenance{orders: store}
			c.MaintenanceInterval = -1
		})
		if c, err := g.r.Maintain(context.Background()); err != nil || c.Redispatched != 1 {
			t.Fatalf("Maintain = %+v, %v", c, err)
		}
		g.start(t)
		if ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), 1)); ev.Job.State != rivertype.JobStateCompleted || !redispatched(ev.Job) {
			t.Fatalf("dispatch job %s (redispatched %v), want a completed redispatch", ev.Job.State, redispatched(ev.Job))
		}
		creates, _ := g.ccb.recorded()
		if _, _, cancelled, _ := store.snapshot(); len(cancelled) != 0 || len(creates) != 0 {
			t.Errorf("cancelled locally %v, creates %d; want neither", cancelled, len(creates))
		}
	})
}

func TestMaintain_withoutAStoreFails(t *testing.T) {
	t.Parallel()
	g := newRig(t, openSQLite(t), DialectSQLite, newFakeStore(), nil)
	if _, err := g.r.Maintain(context.Background()); err == nil {
		t.Error("Maintain without Config.Maintenance succeeded")
	}
}
