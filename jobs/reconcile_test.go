package jobs

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/adapters/sqlstore"
	"aidmall/bizday"
	"aidmall/orders"
)

func event(m orders.Mall, out, id string, typ orders.EventType, line int, qty int64) orders.FulfilmentEvent {
	return orders.FulfilmentEvent{
		Mall: m, EventID: orders.MallEventID(id), Type: typ, OutOrderNo: orders.OutOrderNo(out), MallOrderNo: "M-" + out,
		LineNo: line, Quantity: qty, OccurredAt: time.Date(2019, 3, 11, 14, 22, 10, 0, bizday.Beijing),
	}
}

// clock at 2019-03-12 01:00 Beijing, which is still 2019-03-11 in UTC: "today" must be
// the Beijing day.
var reconcileNow = time.Date(2019, 3, 11, 17, 0, 0, 0, time.UTC)

// unknownOut is the out_order_no of no order here.
const unknownOut = "AM0000000000000000000000ZZ"

// statementOrders are a CCB order (testOrder: 20 × P1, 5 × P2) and an ABC one (10 × P1),
// placed through the service without their dispatch jobs (the statements say they
// reached their malls).
func statementOrders(t *testing.T, g *rig) (ccb, abc *orders.GroupOrder) {
	t.Helper()
	ccb = g.placeWithoutJob(t, testOrder("2019-HQ-0001"), time.Now())
	req := testOrder("2019-HQ-0002")
	req.Mall, req.Lines = mallABC, []orders.PlaceLine{{SKU: "P1", Quantity: 10}}
	abc = g.placeWithoutJob(t, req, time.Now())
	return ccb, abc
}

// reconcileSources fills ccbSrc and abcSrc with the two malls' statements of 2019-03-11
// and 2019-03-12 for the orders ccb and abc (out_order_no).
func reconcileSources(ccbSrc, abcSrc *fakeStatements, ccb, abc string) {
	ccbSrc.days = map[string][]orders.FulfilmentEvent{
		"2019-03-11": {
			event(mallCCB, ccb, "N1", orders.EventAccepted, 0, 0),
			event(mallCCB, ccb, "N2", orders.EventDelivered, 1, 20),
			event(mallCCB, ccb, "N2", orders.EventDelivered, 1, 20), // repeated in the statement
			event(mallCCB, ccb, "", orders.EventDelivered, 1, 20),   // no id: invalid
		},
		"2019-03-12": {
			event(mallCCB, ccb, "N3", orders.EventShipped, 2, 5),
			// The same event id for an order not known yet: another event (the key is
			// mall, out_order_no and event id), kept until its order comes.
			event(mallCCB, unknownOut, "N2", orders.EventDelivered, 1, 20),
		},
	}
	abcSrc.days = map[string][]orders.FulfilmentEvent{
		// yesterday's statement not published: skipped
		"2019-03-12": {
			event(mallABC, abc, "EVT-1", orders.EventDelivered, 1, 3),
			event(mallCCB, abc, "EVT-2", orders.EventDelivered, 1, 3), // wrong mall: invalid
		},
	}
}

// quantities returns each line's shipped and delivered quantities, "line:shipped/delivered".
func quantities(o *orders.GroupOrder) []string {
	var out []string
	for _, l := range o.Lines {
		out = append(out, fmt.Sprintf("%d:%d/%d", l.LineNo, l.ShippedQty, l.DeliveredQty))
	}
	return out
}

func TestReconcile_appliesYesterdayAndTodayOnce(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ccb, abc := &fakeStatements{}, &fakeStatements{}
		g := newRig(t, db, func(c *Config) {
			c.Statements = map[orders.Mall]StatementSource{mallCCB: ccb, mallABC: abc}
			c.Now = func() time.Time { return reconcileNow }
			c.ReconcileInterval = -1
		})
		co, ao := statementOrders(t, g)
		reconcileSources(ccb, abc, string(co.OutOrderNo), string(ao.OutOrderNo))
		// Already notified, through the webhook.
		g.apply(t, event(mallCCB, string(co.OutOrderNo), "N1", orders.EventAccepted, 0, 0))

		counts, err := g.r.Reconcile(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[orders.Mall]ReconcileCounts{
			mallCCB: {Events: 6, Tally: orders.Tally{Applied: 2, Duplicate: 2, Parked: 1}, Invalid: 1},
			mallABC: {Events: 2, Tally: orders.Tally{Applied: 1}, Invalid: 1, Missing: 1},
		}
		if !reflect.DeepEqual(counts, want) {
			t.Errorf("counts %+v\nwant   %+v", counts, want)
		}
		if want := []string{"2019-03-11", "2019-03-12"}; !reflect.DeepEqual(ccb.asked, want) || !reflect.DeepEqual(abc.asked, want) {
			t.Errorf("days asked: ccb %v abc %v; want %v (Beijing)", ccb.asked, abc.asked, want)
		}
		check := func(when string) {
			t.Helper()
			gotC, gotA := g.order(t, co.ID), g.order(t, ao.ID)
			if q := quantities(gotC); !reflect.DeepEqual(q, []string{"1:0/20", "2:5/0"}) || !gotC.Accepted {
				t.Errorf("%s: ccb order lines %v, accepted %v; want line 1 delivered 20, line 2 shipped 5", when, q, gotC.Accepted)
			}
			if q := quantities(gotA); !reflect.DeepEqual(q, []string{"1:0/3"}) {
				t.Errorf("%s: abc order lines %v, want 3 delivered", when, q)
			}
		}
		check("after the first run")
		// The two unusable events are kept for an operator, once each however often the
		// statement is read.
		unreadable := func(when string) {
			t.Helper()
			if n, err := g.st.UnreadableCount(context.Background()); err != nil || n != 2 {
				t.Errorf("%s: %d unreadable kept (%v), want the 2 unusable events", when, n, err)
			}
		}
		unreadable("after the first run")
		// A second run changes nothing.
		again, err := g.r.Reconcile(context.Background())
		if err != nil || again[mallCCB].Applied != 0 || again[mallABC].Applied != 0 || again[mallCCB].Duplicate != 5 {
			t.Errorf("second run %+v, %v; want nothing applied, the parked event and the rest duplicates", again, err)
		}
		check("after the second run")
		unreadable("after the second run")
	})
}

// A statement row under an event id already recorded with other content is counted apart
// and not applied: the recorded event stands.
func TestReconcile_anEventIdAlreadyRecordedWithOtherContentIsCountedNotApplied(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ccb := &fakeStatements{}
		g := newRig(t, db, func(c *Config) {
			c.Statements = map[orders.Mall]StatementSource{mallCCB: ccb}
			c.Now = func() time.Time { return reconcileNow }
			c.ReconcileInterval = -1
		})
		co, _ := statementOrders(t, g)
		g.apply(t, event(mallCCB, string(co.OutOrderNo), "N2", orders.EventDelivered, 1, 12)) // notified: 12
		ccb.days = map[string][]orders.FulfilmentEvent{"2019-03-11": {
			event(mallCCB, string(co.OutOrderNo), "N2", orders.EventDelivered, 1, 20), // the statement says 20
			event(mallCCB, string(co.OutOrderNo), "N2", orders.EventDelivered, 1, 12), // and 12 again
		}}
		counts, err := g.r.Reconcile(context.Background(), bizday.MustParse("2019-03-11"))
		if err != nil {
			t.Fatal(err)
		}
		if want := (ReconcileCounts{Events: 2, Tally: orders.Tally{Duplicate: 2, Differing: 1}}); counts[mallCCB] != want {
			t.Errorf("counts %+v, want %+v", counts[mallCCB], want)
		}
		if q := quantities(g.order(t, co.ID)); q[0] != "1:0/12" {
			t.Errorf("line quantities %v, want line 1 delivered 12 as recorded", q)
		}
	})
}

type failingKeeper struct{}

func (failingKeeper) KeepUnreadable(context.Context, orders.Mall, []byte, string) error {
	return errors.New("database down")
}

// An unusable event that cannot be kept fails the run, so that the day is read again
// rather than the event lost.
func TestReconcile_anUnusableEventNotKeptFailsTheRun(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ccb := &fakeStatements{}
		g := newRig(t, db, func(c *Config) {
			c.Statements = map[orders.Mall]StatementSource{mallCCB: ccb}
			c.Unreadable = failingKeeper{}
			c.Now = func() time.Time { return reconcileNow }
			c.ReconcileInterval = -1
		})
		co, _ := statementOrders(t, g)
		ccb.days = map[string][]orders.FulfilmentEvent{"2019-03-11": {event(mallCCB, string(co.OutOrderNo), "", orders.EventDelivered, 1, 20)}}
		if _, err := g.r.Reconcile(context.Background()); err == nil {
			t.Fatal("reconcile succeeded although the unusable event could not be kept")
		}
	})
}

type failingStatements struct{}

func (failingStatements) Statement(context.Context, bizday.Day) ([]orders.FulfilmentEvent, error) {
	return nil, errors.New("connection refused")
}

func TestReconcile_oneMallFailingDoesNotStopTheOther(t *testing.T) {
	t.Parallel()
	abc := &fakeStatements{}
	g := newRig(t, migratedSQLite(t), func(c *Config) {
		c.Statements = map[orders.Mall]StatementSource{mallCCB: failingStatements{}, mallABC: abc}
		c.Now = func() time.Time { return reconcileNow }
	})
	co, ao := statementOrders(t, g)
	reconcileSources(&fakeStatements{}, abc, string(co.OutOrderNo), string(ao.OutOrderNo))
	counts, err := g.r.Reconcile(context.Background(), bizday.MustParse("2019-03-12"))
	if err == nil {
		t.Error("a failing statement gave no error")
	}
	if counts[mallABC].Applied != 1 || !reflect.DeepEqual(quantities(g.order(t, ao.ID)), []string{"1:0/3"}) {
		t.Errorf("abc applied %d (lines %v), want 1", counts[mallABC].Applied, quantities(g.order(t, ao.ID)))
	}
}

func TestReconcile_runsAsAJob(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ccb, abc := &fakeStatements{}, &fakeStatements{}
		g := newRig(t, db, func(c *Config) {
			c.Statements = map[orders.Mall]StatementSource{mallCCB: ccb, mallABC: abc}
			c.Now = func() time.Time { return reconcileNow }
			c.ReconcileInterval = -1
		})
		co, ao := statementOrders(t, g)
		reconcileSources(ccb, abc, string(co.OutOrderNo), string(ao.OutOrderNo))
		g.start(t)
		if err := g.r.EnqueueReconcile(context.Background(), bizday.MustParse("2019-03-12")); err != nil {
			t.Fatal(err)
		}
		ev := g.waitFor(t, "reconcile job", func(ev *river.Event) bool { return ev.Job.Kind == ReconcileArgs{}.Kind() })
		if ev.Job.State != rivertype.JobStateCompleted {
			t.Fatalf("reconcile job %s", ev.Job.State)
		}
		gotC, gotA := g.order(t, co.ID), g.order(t, ao.ID)
		if q := quantities(gotC); !reflect.DeepEqual(q, []string{"1:0/0", "2:5/0"}) || gotC.Accepted {
			t.Errorf("ccb lines %v, accepted %v; want only 2019-03-12's shipment", q, gotC.Accepted)
		}
		if q := quantities(gotA); !reflect.DeepEqual(q, []string{"1:0/3"}) {
			t.Errorf("abc lines %v, want 3 delivered", q)
		}
	})
}

func TestReconcile_periodicJobRunsOnStart(t *testing.T) {
	t.Parallel()
	ccb, abc := &fakeStatements{}, &fakeStatements{}
	g := newRig(t, migratedSQLite(t), func(c *Config) {
		c.Statements = map[orders.Mall]StatementSource{mallCCB: ccb, mallABC: abc}
		c.Now = func() time.Time { return reconcileNow }
	})
	co, ao := statementOrders(t, g)
	reconcileSources(ccb, abc, string(co.OutOrderNo), string(ao.OutOrderNo))
	g.start(t)
	ev := g.waitFor(t, "periodic reconcile", func(ev *river.Event) bool { return ev.Job.Kind == ReconcileArgs{}.Kind() })
	if ev.Job.State != rivertype.JobStateCompleted {
		t.Fatalf("reconcile job %s", ev.Job.State)
	}
	gotC, gotA := g.order(t, co.ID), g.order(t, ao.ID)
	if q := quantities(gotC); !reflect.DeepEqual(q, []string{"1:0/20", "2:5/0"}) || !gotC.Accepted || !reflect.DeepEqual(quantities(gotA), []string{"1:0/3"}) {
		t.Errorf("ccb lines %v (accepted %v), abc %v; want yesterday's and today's events applied", q, gotC.Accepted, quantities(gotA))
	}
}

func TestReconcile_badDayCancelsTheJob(t *testing.T) {
	t.Parallel()
	ccb := &fakeStatements{}
	reconcileSources(ccb, &fakeStatements{}, unknownOut, unknownOut)
	g := newRig(t, migratedSQLite(t), func(c *Config) {
		c.Statements = map[orders.Mall]StatementSource{mallCCB: ccb}
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
