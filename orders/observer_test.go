package orders_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// The WithApplied observer hears of every event Apply applied, after the commit (the
// ledger already shows it), and of no duplicate or parked event.
func TestWithAppliedIsCalledAfterCommitForAppliedEventsOnly(t *testing.T) {
	t.Parallel()
	clock := func() time.Time { return testNow }
	st := &testStore{jobs: &sqltest.Jobs{}}
	st.Store = sqltest.Store(t, sqltest.SQLite(t), sqltest.WithEnqueuer(st.jobs), sqltest.WithClock(clock))
	seedRegistry(t, st.Store)
	ctx := context.Background()
	var mu sync.Mutex
	var heard []orders.MallEventID
	var eventsAtCall []int
	svc, err := orders.NewService(st.Store, withSpecLimits(mallCCB, mallABC), clock,
		orders.WithApplied(func(_ context.Context, ev orders.FulfilmentEvent, res orders.ApplyResult) {
			_, n := st.counts() // a new connection's view: only what is committed
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, ev.EventID)
			eventsAtCall = append(eventsAtCall, n)
		}))
	if err != nil {
		t.Fatal(err)
	}
	// Parked: no order has the number yet.
	if res, err := svc.Apply(ctx, delivered()); err != nil || !res.Parked {
		t.Fatalf("Apply = %+v, %v; want parked", res, err)
	}
	o, err := svc.Place(ctx, hqStaff, bulkRequest())
	if err != nil {
		t.Fatal(err)
	}
	ev := orders.FulfilmentEvent{Mall: o.Mall, EventID: "D1", Type: orders.EventDelivered, OutOrderNo: o.OutOrderNo,
		MallOrderNo: "M1", LineNo: 1, Quantity: 1, OccurredAt: testNow.Add(time.Hour)}
	if res, err := svc.Apply(ctx, ev); err != nil || res.Duplicate || res.Parked {
		t.Fatalf("Apply(delivery) = %+v, %v", res, err)
	}
	if res, err := svc.Apply(ctx, ev); err != nil || !res.Duplicate {
		t.Fatalf("Apply(again) = %+v, %v; want duplicate", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 1 || heard[0] != "D1" {
		t.Fatalf("observer heard %v, want only D1", heard)
	}
	if eventsAtCall[0] != 2 { // the parked event and D1, both committed
		t.Fatalf("observer saw %d events stored, want 2 (called before the commit?)", eventsAtCall[0])
	}
}
