package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// An event id the mall uses again with other content is a duplicate that changes nothing
// (the recorded event stands) and says what differs, whether the copy comes alone, in a
// batch after the event was recorded, or twice in one batch; a true copy says nothing.
func TestEventIdUsedAgainWithOtherContent(t *testing.T) {
	for _, d := range sqltest.Dialects {
		open := d.Open
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, open)
			o := f.place(t, "DIFF", mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 10})
			if err := f.svc.MarkSubmitted(ctx, o.ID, "M1"); err != nil {
				t.Fatal(err)
			}
			d1 := ev(o, "D1", orders.EventDelivered, 1, 2, 0, "2019-03-05 14:00")
			if res, err := f.svc.Apply(ctx, d1); err != nil || res.Duplicate {
				t.Fatalf("first delivery: %+v, %v", res, err)
			}
			before := ledger(t, f.store)

			// Alone: a true copy, then the same id with another quantity.
			if res, err := f.svc.Apply(ctx, d1); err != nil || !res.Duplicate || res.Differs != "" {
				t.Fatalf("a true copy: %+v, %v", res, err)
			}
			other := d1
			other.Quantity = 3
			if res, err := f.svc.Apply(ctx, other); err != nil || !res.Duplicate || !strings.Contains(res.Differs, "quantity 3 (recorded: 2)") {
				t.Fatalf("the id again with quantity 3: %+v, %v", res, err)
			}

			// In a batch: the recorded one with another day, a true copy of it, a new event
			// and a copy of that one with another quantity.
			otherDay := ev(o, "D1", orders.EventDelivered, 1, 2, 0, "2019-03-06 14:00")
			d2 := ev(o, "D2", orders.EventDelivered, 1, 1, 0, "2019-03-07 14:00")
			d2again := d2
			d2again.Quantity = 4
			res, err := f.svc.ApplyBatch(ctx, []orders.FulfilmentEvent{otherDay, d1, d2, d2again})
			if err != nil {
				t.Fatal(err)
			}
			if !res[0].Duplicate || !strings.Contains(res[0].Differs, "occurred_at 2019-03-06T14:00:00+08:00 (recorded: 2019-03-05T14:00:00+08:00)") {
				t.Errorf("the recorded id with another day: %+v", res[0])
			}
			if !res[1].Duplicate || res[1].Differs != "" {
				t.Errorf("a true copy in a batch: %+v", res[1])
			}
			if res[2].Duplicate || res[2].Differs != "" {
				t.Errorf("a new event: %+v", res[2])
			}
			if !res[3].Duplicate || !strings.Contains(res[3].Differs, "quantity 4 (recorded: 1)") {
				t.Errorf("a copy in the same batch with another quantity: %+v", res[3])
			}

			// Only D2's one unit was added to the ledger.
			after := ledger(t, f.store)
			var sumBefore, sumAfter int64
			for _, v := range before {
				sumBefore += int64(v)
			}
			for _, v := range after {
				sumAfter += int64(v)
			}
			if sumAfter-sumBefore != 6800 {
				t.Errorf("the ledger grew by %d fen, want 6800 (D2's one unit alone)", sumAfter-sumBefore)
			}
		})
	}
}
