package jobs

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// failingStranded is the production store whose StrandedOrders fails (a fault injected);
// everything else is the store's.
type failingStranded struct {
	*sqlstore.Store
	err error
}

func (f failingStranded) StrandedOrders(context.Context, time.Time, int) ([]int64, error) {
	return nil, f.err
}

// anHourAgo is past any StrandedAfter used here.
func anHourAgo() time.Time { return time.Now().Add(-time.Hour) }

// maintained makes the runner's own store its maintenance store, as cmd does.
func maintained(c *Config) { c.Maintenance = c.Store.(*sqlstore.Store) }

// idempotencyKeys counts the stored idempotency keys.
func idempotencyKeys(t *testing.T, g *rig) int {
	t.Helper()
	var n int
	if err := g.sql.QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// dispatchJobStates returns the states of the dispatch jobs in river_job, sorted.
func dispatchJobStates(t *testing.T, g *rig) []string {
	t.Helper()
	rows, err := g.sql.Query(`SELECT state FROM river_job WHERE kind = 'aidmall_dispatch' ORDER BY state`)
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

// An order whose dispatch job ran out of attempts is dispatch_failed (giveup_test.go): not
// stranded, so maintenance leaves it to a person; the discarded job does not block the
// job of a retry by hand. (Maintenance's own redispatch of pending orders whose job is
// gone: the placeWithoutJob tests below.)
func TestMaintain_leavesAGivenUpOrderToAPerson(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newRig(t, db, func(c *Config) {
			c.MaxAttempts = 2
			maintained(c)
			c.MaintenanceInterval = -1 // run by hand below
		})
		// The mall is down for the first job's two attempts, back for the next call.
		g.ccb.createErr = []error{busy, busy, nil}
		o := g.placeAt(t, testOrder("2019-HQ-0001"), anHourAgo())
		g.start(t)
		if ev := g.waitFor(t, "first dispatch", finished(DispatchArgs{}.Kind(), o.ID)); ev.Job.State != rivertype.JobStateDiscarded {
			t.Fatalf("first dispatch job %s, want discarded", ev.Job.State)
		}
		if got := g.order(t, o.ID); got.Status != orders.StatusDispatchFailed {
			t.Fatalf("order %s, want dispatch_failed", got.Status)
		}
		if c, err := g.r.Maintain(ctx); err != nil || c.Stranded != 0 || c.Redispatched != 0 {
			t.Fatalf("Maintain = %+v, %v; want the given-up order left to a person", c, err)
		}
		if _, err := g.svc.RetryDispatch(ctx, aidOffice, o.ID); err != nil {
			t.Fatalf("retry by hand: %v", err)
		}
		if ev := g.waitFor(t, "second dispatch", finished(DispatchArgs{}.Kind(), o.ID)); ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("second dispatch job %s, want completed", ev.Job.State)
		}
		if c, err := g.r.Maintain(ctx); err != nil || c.Stranded != 0 {
			t.Errorf("Maintain after submission = %+v, %v; want nothing stranded", c, err)
		}

		creates, _ := g.ccb.recorded()
		got := g.order(t, o.ID)
		if len(creates) != 3 || got.Status != orders.StatusSubmitted || got.MallOrderNo != "M-"+string(o.OutOrderNo) || got.Cancelled {
			t.Errorf("creates %d, order %s as %q (cancelled %v); want 2 failed + 1 good create, submitted",
				len(creates), got.Status, got.MallOrderNo, got.Cancelled)
		}
		if got := dispatchJobStates(t, g); !reflect.DeepEqual(got, []string{"completed", "discarded"}) {
			t.Errorf("dispatch jobs %v, want the discarded one and one completed", got)
		}
		if got := value(g.r.metrics.redispatched); got != 0 {
			t.Errorf("redispatched metric %v, want 0", got)
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
				g.placeAt(t, testOrder("2019-HQ-0001"), anHourAgo())
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
				o := g.placeWithoutJob(t, testOrder("2019-HQ-0001"), anHourAgo())
				g.enqueue(t, func(tx *sql.Tx) error {
					_, err := g.r.insertDispatch(context.Background(), tx, o.ID, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
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
				o := g.placeAt(t, testOrder("2019-HQ-0001"), anHourAgo())
				g.start(t)
				select {
				case <-entered:
				case <-time.After(30 * time.Second):
					t.Fatal("dispatch never called the mall")
				}
				return func() {
					close(release)
					g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID))
				}
			},
			wantState:   "completed",
			wantCreates: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
				g := newRig(t, db, func(c *Config) {
					maintained(c)
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
				if got := dispatchJobStates(t, g); !reflect.DeepEqual(got, []string{tt.wantState}) {
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
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		g := newRig(t, db, maintained)
		// The order was stored but its dispatch job is gone (discarded and cleaned out);
		// an idempotency key is two days old.
		o := g.placeWithoutJob(t, testOrder("2019-HQ-0001"), anHourAgo())
		sqltest.IdempotencyKeysAt(t, db, time.Now().Add(-48*time.Hour), time.Now())
		g.start(t)
		if ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID)); ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("dispatch job %s, want completed", ev.Job.State)
		}
		if got := g.order(t, o.ID); got.Status != orders.StatusSubmitted || got.MallOrderNo != "M-"+string(o.OutOrderNo) {
			t.Errorf("order %s as %q, want placed at its mall", got.Status, got.MallOrderNo)
		}
		if creates, _ := g.ccb.recorded(); len(creates) != 1 {
			t.Errorf("mall saw %d creates, want 1", len(creates))
		}
		if n := idempotencyKeys(t, g); n != 1 {
			t.Errorf("%d idempotency keys left, want the recent one only", n)
		}
	})
}

func TestMaintain_intervalOffRunsNoPeriodicJob(t *testing.T) {
	t.Parallel()
	db := migratedSQLite(t)
	ccb := &fakeStatements{}
	reconcileSources(ccb, &fakeStatements{}, unknownOut, unknownOut)
	g := newRig(t, db, func(c *Config) {
		maintained(c)
		c.MaintenanceInterval = -1
		// The reconcile job is inserted on start in the same batch as every periodic job
		// that runs on start: once it has run, a maintenance job would exist too.
		c.Statements = map[orders.Mall]StatementSource{mallCCB: ccb}
		c.Now = func() time.Time { return reconcileNow }
	})
	g.placeWithoutJob(t, testOrder("2019-HQ-0001"), anHourAgo())
	sqltest.IdempotencyKeysAt(t, db, time.Now().Add(-48*time.Hour))
	g.start(t)
	g.waitFor(t, "periodic reconcile", func(ev *river.Event) bool { return ev.Job.Kind == ReconcileArgs{}.Kind() })
	var n int
	if err := g.sql.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'aidmall_maintenance'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d maintenance jobs (%v), want none", n, err)
	}
	if n := idempotencyKeys(t, g); n != 1 {
		t.Errorf("%d idempotency keys, want the old one still there: nothing maintained", n)
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
		wantDeleted int64
		wantErr     bool
	}{
		{name: "default_keeps_24_hours", wantDeleted: 2},
		{name: "configured_retention", retention: 2 * time.Hour, wantDeleted: 4},
		{name: "deleted_even_when_stranded_orders_fail", strandedErr: errors.New("db down"), wantDeleted: 2, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.SQLite(t)
			sqltest.IdempotencyKeysAt(t, db, keys...)
			g := newRig(t, db, func(c *Config) {
				maintained(c)
				if tt.strandedErr != nil {
					c.Maintenance = failingStranded{Store: c.Store.(*sqlstore.Store), err: tt.strandedErr}
				}
				c.IdempotencyRetention = tt.retention
				c.Now = func() time.Time { return now }
			})
			c, err := g.r.Maintain(context.Background())
			if (err != nil) != tt.wantErr {
				t.Errorf("Maintain error %v, want error %v", err, tt.wantErr)
			}
			if kept := idempotencyKeys(t, g); c.IdempotencyDeleted != tt.wantDeleted || kept != len(keys)-int(tt.wantDeleted) {
				t.Errorf("deleted %d (%d kept), want %d", c.IdempotencyDeleted, kept, tt.wantDeleted)
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
	g := newRig(t, migratedSQLite(t), func(c *Config) {
		maintained(c)
		c.Now = func() time.Time { return now }
	})
	g.placeWithoutJob(t, testOrder("2019-HQ-0001"), now.Add(-9*time.Minute))
	old := g.placeWithoutJob(t, testOrder("2019-HQ-0002"), now.Add(-11*time.Minute))
	g.placeWithoutJob(t, testOrder("2019-HQ-0003"), now.Add(-10*time.Minute)) // on the cut-off: not before it
	c, err := g.r.Maintain(context.Background())
	if err != nil || c.Stranded != 1 || c.Redispatched != 1 {
		t.Fatalf("Maintain = %+v, %v; want only the 11-minute-old order", c, err)
	}
	res, err := g.r.client.JobList(context.Background(), river.NewJobListParams().Kinds(DispatchArgs{}.Kind()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != 1 || orderID(res.Jobs[0]) != old.ID || !redispatched(res.Jobs[0]) {
		t.Errorf("dispatch jobs %+v, want one, of order 2, marked as a redispatch", res.Jobs)
	}
}

func TestMaintain_redispatchWithCancelRequestedLeavesItToTheCancelJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		// An earlier dispatch job may have reached the mall before it gave up; a cancel
		// was asked for since. Only the cancel job, which asks the mall, may decide.
		g := newRig(t, db, func(c *Config) {
			maintained(c)
			c.MaintenanceInterval = -1
		})
		// Placed long ago; its job is gone, and the cancel asked for since was recorded by
		// a process whose cancel job was lost too.
		st := sqltest.Store(t, db, sqltest.WithClock(anHourAgo))
		o := placeOn(t, service(t, st), testOrder("2019-HQ-0001"))
		if _, err := service(t, st).Cancel(context.Background(), aidOffice, o.ID, "预算调整"); err != nil {
			t.Fatal(err)
		}
		if c, err := g.r.Maintain(context.Background()); err != nil || c.Redispatched != 1 {
			t.Fatalf("Maintain = %+v, %v", c, err)
		}
		g.start(t)
		if ev := g.waitFor(t, "dispatch", finished(DispatchArgs{}.Kind(), o.ID)); ev.Job.State != rivertype.JobStateCompleted || !redispatched(ev.Job) {
			t.Fatalf("dispatch job %s (redispatched %v), want a completed redispatch", ev.Job.State, redispatched(ev.Job))
		}
		creates, _ := g.ccb.recorded()
		if got := g.order(t, o.ID); got.Cancelled || !got.CancelReq || len(creates) != 0 {
			t.Errorf("cancelled locally %v (still requested %v), creates %d; want neither, the request left open", got.Cancelled, got.CancelReq, len(creates))
		}
	})
}

func TestMaintain_withoutAStoreFails(t *testing.T) {
	t.Parallel()
	g := newRig(t, sqltest.SQLite(t), nil)
	if _, err := g.r.Maintain(context.Background()); err == nil {
		t.Error("Maintain without Config.Maintenance succeeded")
	}
}
