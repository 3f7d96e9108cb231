package orders_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// The use cases decided in orders run in one transaction of the real store, on SQLite and
// (with AIDMALL_TEST_POSTGRES) PostgreSQL.
func TestUseCasesInOneTransaction(t *testing.T) {
	t.Parallel()
	for _, d := range sqltest.Dialects {
		open := d.Open
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			at := testNow.Add(time.Hour)
			ev := func(o *orders.GroupOrder, id string, typ orders.EventType, line int, qty int64) orders.FulfilmentEvent {
				return orders.FulfilmentEvent{Mall: o.Mall, EventID: orders.MallEventID(id), Type: typ, OutOrderNo: o.OutOrderNo, MallOrderNo: "M1",
					LineNo: line, Quantity: qty, OccurredAt: at}
			}
			t.Run("events_set_quantities_status_and_hold_what_cannot_apply", func(t *testing.T) {
				svc, st := newTestServiceOn(t, open)
				o, err := svc.Place(ctx, hqStaff, bulkRequest()) // 20 boxes at 68.00
				if err != nil {
					t.Fatal(err)
				}
				if d := st.jobs.Dispatched(); len(d) != 1 || d[0] != o.ID {
					t.Fatalf("dispatch jobs %v, want [%d]", d, o.ID)
				}
				for _, e := range []orders.FulfilmentEvent{ev(o, "S", orders.EventShipped, 1, 20), ev(o, "D", orders.EventDelivered, 1, 15)} {
					if res, err := svc.Apply(ctx, e); err != nil || res != (orders.ApplyResult{}) {
						t.Fatalf("apply %s: %+v %v", e.EventID, res, err)
					}
				}
				if res, _ := svc.Apply(ctx, ev(o, "D2", orders.EventDelivered, 1, 6)); !res.Held {
					t.Fatalf("a delivery beyond the ordered quantity: %+v, want held", res)
				}
				if res, _ := svc.Apply(ctx, ev(o, "X", orders.EventShipped, 9, 1)); !res.Held {
					t.Fatalf("an event of a line the order lacks: %+v, want held", res)
				}
				got, err := st.Order(ctx, o.ID)
				if err != nil {
					t.Fatal(err)
				}
				l := got.Lines[0]
				if got.Status != orders.StatusPartiallyDelivered || l.ShippedQty != 20 || l.DeliveredQty != 15 || l.HeldEvents != 1 {
					t.Fatalf("order %s, line shipped %d delivered %d held %d", got.Status, l.ShippedQty, l.DeliveredQty, l.HeldEvents)
				}
				p, _ := st.Progress(ctx)
				if p.Held != 2 {
					t.Fatalf("%d events held, want 2 (beyond ordered, unknown line)", p.Held)
				}
				if _, err := svc.Cancel(ctx, hqStaff, o.ID, "x"); !errors.Is(err, orders.ErrNotAllowed) {
					t.Fatalf("cancel after delivery: %v, want ErrNotAllowed", err)
				}
			})
			t.Run("history_adopts_the_events_parked_for_it", func(t *testing.T) {
				svc, st := newTestServiceOn(t, open)
				h := historyOrder()
				early := orders.FulfilmentEvent{Mall: h.Mall, EventID: "E1", Type: orders.EventDelivered, OutOrderNo: h.OutOrderNo,
					LineNo: 1, Quantity: 50, OccurredAt: h.PlacedAt.Add(72 * time.Hour)}
				if res, err := svc.Apply(ctx, early); err != nil || !res.Parked {
					t.Fatalf("early event: %+v %v, want parked", res, err)
				}
				o, created, err := svc.LoadHistory(ctx, office, h)
				if err != nil || !created {
					t.Fatal(created, err)
				}
				if o.Status != orders.StatusPartiallyDelivered || o.Lines[0].DeliveredQty != 50 {
					t.Fatalf("history order %s delivered %d, want its parked delivery applied", o.Status, o.Lines[0].DeliveredQty)
				}
				if len(st.jobs.Dispatched()) != 0 {
					t.Fatal("history got a dispatch job")
				}
			})
			t.Run("one_of_two_racing_orders_with_one_order_ref_wins", func(t *testing.T) {
				svc, st := newTestServiceOn(t, open)
				var wg sync.WaitGroup
				errs := make([]error, 4)
				for i := range errs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = svc.Place(ctx, hqStaff, bulkRequest())
					}()
				}
				wg.Wait()
				ok := 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case !errors.Is(err, orders.ErrConflict):
						t.Fatalf("racing place: %v, want ErrConflict", err)
					}
				}
				if n, _ := st.counts(); ok != 1 || n != 1 {
					t.Fatalf("%d placed, %d stored; want 1 and 1", ok, n)
				}
			})
		})
	}
}
