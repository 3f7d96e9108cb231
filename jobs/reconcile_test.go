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

	"aidmall/bizday"
	"aidmall/orders"
)

func event(m orders.Mall, id string, typ orders.EventType, line int, qty int64) orders.FulfilmentEvent {
	return orders.FulfilmentEvent{
		Mall: m, EventID: id, Type: typ, OutOrderNo: "AM20190312090000000001", MallOrderNo: "M1",
		LineNo: line, Quantity: qty, OccurredAt: time.Date(2019, 3, 11, 14, 22, 10, 0, bizday.Beijing),
	}
}

// clock at 2019-03-12 01:00 Beijing, which is still 2019-03-11 in UTC: "today" must be
// the Beijing day.
var reconcileNow = time.Date(2019, 3, 11, 17, 0, 0, 0, time.UTC)

func reconcileSources() (ccb, abc *fakeStatements) {
	ccb = &fakeStatements{days: map[string][]orders.FulfilmentEvent{
		"2019-03-11": {
			event(orders.MallCCB, "N1", orders.EventAccepted, 0, 0),
			event(orders.MallCCB, "N2", orders.EventDelivered, 1, 20),
			event(orders.MallCCB, "N2", orders.EventDelivered, 1, 20), // repeated in the statement
			event(orders.MallCCB, "", orders.EventDelivered, 1, 20),   // no id: invalid
		},
		"2019-03-12": {event(orders.MallCCB, "N3", orders.EventShipped, 2, 5)},
	}}
	abc = &fakeStatements{days: map[string][]orders.FulfilmentEvent{
		// yesterday's statement not published: skipped
		"2019-03-12": {
			event(orders.MallABC, "EVT-1", orders.EventDelivered, 1, 3),
			event(orders.MallCCB, "EVT-2", orders.EventDelivered, 1, 3), // wrong mall: invalid
		},
	}}
	return ccb, abc
}

func TestReconcile_appliesYesterdayAndTodayOnce(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		store := newFakeStore()
		store.events["ccb/N1"] = true // already notified
		ccb, abc := reconcileSources()
		g := newRig(t, db, dialect, store, func(c *Config) {
			c.Statements = map[orders.Mall]StatementSource{orders.MallCCB: ccb, orders.MallABC: abc}
			c.Now = func() time.Time { return reconcileNow }
			c.ReconcileInterval = -1
		})
		counts, err := g.r.Reconcile(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[orders.Mall]ReconcileCounts{
			orders.MallCCB: {Events: 5, Tally: orders.Tally{Applied: 2, Duplicate: 2}, Invalid: 1},
			orders.MallABC: {Events: 2, Tally: orders.Tally{Applied: 1}, Invalid: 1, Missing: 1},
		}
		if !reflect.DeepEqual(counts, want) {
			t.Errorf("counts %+v\nwant   %+v", counts, want)
		}
		if want := []string{"2019-03-11", "2019-03-12"}; !reflect.DeepEqual(ccb.asked, want) || !reflect.DeepEqual(abc.asked, want) {
			t.Errorf("days asked: ccb %v abc %v; want %v (Beijing)", ccb.asked, abc.asked, want)
		}
		_, _, _, applied := store.snapshot()
		if want := []string{"abc/EVT-1", "ccb/N2", "ccb/N3"}; !reflect.DeepEqual(applied, want) {
			t.Errorf("applied %v, want %v", applied, want)
		}
		// A second run changes nothing.
		again, err := g.r.Reconcile(context.Background())
		if err != nil || again[orders.MallCCB].Applied != 0 || again[orders.MallABC].Applied != 0 {
			t.Errorf("second run %+v, %v; want nothing applied", again, err)
		}
	})
}

type failingStatements struct{}

func (failingStatements) Statement(context.Context, bizday.Day) ([]orders.FulfilmentEvent, error) {
	return nil, errors.New("connection refused")
}

func TestReconcile_oneMallFailingDoesNotStopTheOther(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	_, abc := reconcileSources()
	g := newRig(t, migratedSQLite(t), DialectSQLite, store, func(c *Config) {
		c.Statements = map[orders.Mall]StatementSource{orders.MallCCB: failingStatements{}, orders.MallABC: abc}
		c.Now = func() time.Time { return reconcileNow }
	})
	counts, err := g.r.Reconcile(context.Background(), bizday.MustParse("2019-03-12"))
	if err == nil {
		t.Error("a failing statement gave no error")
	}
	if counts[orders.MallABC].Applied != 1 {
		t.Errorf("abc applied %d, want 1", counts[orders.MallABC].Applied)
	}
}

func TestReconcile_runsAsAJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sql.DB, dialect string) {
		store := newFakeStore()
		ccb, abc := reconcileSources()
		g := newRig(t, db, dialect, store, func(c *Config) {
			c.Statements = map[orders.Mall]StatementSource{orders.MallCCB: ccb, orders.MallABC: abc}
			c.Now = func() time.Time { return reconcileNow }
			c.ReconcileInterval = -1
		})
		g.start(t)
		if err := g.r.EnqueueReconcile(context.Background(), bizday.MustParse("2019-03-12")); err != nil {
			t.Fatal(err)
		}
		ev := g.waitFor(t, "reconcile job", func(ev *river.Event) bool { return ev.Job.Kind == ReconcileArgs{}.Kind() })
		if ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("reconcile job %s", ev.Job.State)
		}
		if _, _, _, applied := store.snapshot(); !reflect.DeepEqual(applied, []string{"abc/EVT-1", "ccb/N3"}) {
			t.Errorf("applied %v, want only 2019-03-12's events", applied)
		}
	})
}

func TestReconcile_periodicJobRunsOnStart(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	ccb, abc := reconcileSources()
	g := newRig(t, migratedSQLite(t), DialectSQLite, store, func(c *Config) {
		c.Statements = map[orders.Mall]StatementSource{orders.MallCCB: ccb, orders.MallABC: abc}
		c.Now = func() time.Time { return reconcileNow }
	})
	g.start(t)
	ev := g.waitFor(t, "periodic reconcile", func(ev *river.Event) bool { return ev.Job.Kind == ReconcileArgs{}.Kind() })
	if ev.Job.State != rivertype.JobStateCompleted {
		t.Fatalf("reconcile job %s", ev.Job.State)
	}
	if _, _, _, applied := store.snapshot(); len(applied) != 4 {
		t.Errorf("applied %v, want yesterday's and today's 4 new events", applied)
	}
}

func TestReconcile_badDayCancelsTheJob(t *testing.T) {
	t.Parallel()
	ccb, _ := reconcileSources()
	g := newRig(t, migratedSQLite(t), DialectSQLite, newFakeStore(), func(c *Config) {
		c.Statements = map[orders.Mall]StatementSource{orders.MallCCB: ccb}
		c.ReconcileInterval = -1
	})
	g.start(t)
	if _, err := g.r.client.Insert(context.Background(), ReconcileArgs{Days: []string{"2019-02-30"}}, nil); err != nil {
		t.Fatal(err)
	}
	ev := g.waitFor(t, "reconcile job", func(ev *river.Event) bool { return ev.Job.Kind == ReconcileArgs{}.Kind() })
	if ev.Job.State != rivertype.JobStateCancelled || len(ccb.asked) != 0 {
		t.Errorf("job %s, statements asked %v; want cancelled without reading", ev.Job.State, ccb.asked)
	}
}
