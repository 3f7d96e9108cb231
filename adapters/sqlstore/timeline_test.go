package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/money"
	"aidmall/orders"
)

// An order's timeline is its recorded events in the order they happened (not as they
// arrived), once each, with a held event's reason, carrier numbers and refund amounts;
// another order's events are not in it; on SQLite and PostgreSQL.
func TestOrderEventsAreTheOrdersTimeline(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st, svc := serviceOn(t, db)
		at := time.Date(2019, 3, 1, 2, 0, 0, 0, time.UTC)
		o, other := placeAt(t, svc, "T1", at), placeAt(t, svc, "T2", at)
		ev := func(o *orders.GroupOrder, id string, typ orders.EventType, line int, qty int64, refund int64, after time.Duration) orders.FulfilmentEvent {
			return orders.FulfilmentEvent{Mall: mallCCB, EventID: orders.MallEventID(id), Type: typ, OutOrderNo: o.OutOrderNo, LineNo: line,
				Quantity: qty, RefundFen: money.Fen(refund), OccurredAt: at.Add(after)}
		}
		shipped := ev(o, "S", orders.EventShipped, 1, 4, 0, time.Hour)
		shipped.LogisticsNo = "SF123"
		// Arrival order differs from occurrence: the delivery arrives before the shipment.
		for _, e := range []orders.FulfilmentEvent{
			ev(o, "D", orders.EventDelivered, 1, 4, 0, 2*time.Hour), shipped, shipped, // a duplicate changes nothing
			ev(o, "R", orders.EventRefunded, 1, 1, 6800, 3*time.Hour),
			ev(o, "R2", orders.EventRefunded, 1, 9, 99900, 4*time.Hour), // beyond delivered: held
			ev(other, "X", orders.EventShipped, 1, 1, 0, time.Hour),
		} {
			if _, err := svc.Apply(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.OrderEvents(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, string(r.Event.EventID))
		}
		if len(got) != 4 || ids[0] != "S" || ids[1] != "D" || ids[2] != "R" || ids[3] != "R2" {
			t.Fatalf("timeline %v, want S D R R2", ids)
		}
		if got[0].Event.LogisticsNo != "SF123" || !got[0].Event.OccurredAt.Equal(at.Add(time.Hour)) || got[0].Event.Type != orders.EventShipped {
			t.Fatalf("shipment %+v", got[0].Event)
		}
		if got[2].Event.RefundFen != 6800 || got[2].State != orders.EventApplied {
			t.Fatalf("refund %+v", got[2])
		}
		if got[3].State != orders.EventHeld || got[3].HeldReason == "" {
			t.Fatalf("refund beyond delivered: %+v, want held with a reason", got[3])
		}
		if none, err := st.OrderEvents(ctx, 999999); err != nil || len(none) != 0 {
			t.Fatalf("no order: %v, %v", none, err)
		}
	})
}
