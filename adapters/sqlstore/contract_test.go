package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
)

// The two rules the in-memory stores got wrong, tested through orders.Service on the
// production store: the order list's cursor is a keyset (placed_at, id), and a
// notification is one effect per (mall, out_order_no, event id).

// placeAt places a one-line CCB order of P1 at the given Beijing time.
func placeAt(t testing.TB, svc *orders.Service, ref string, at time.Time) *orders.GroupOrder {
	t.Helper()
	o, err := svc.Place(context.Background(), aidOffice, orders.PlaceRequest{
		OrderRef: ref, BranchCode: "HQ", Mall: mallCCB, Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
		ShipTo: orders.ShipTo{Name: "王*", Phone: "13800000000", Address: "北京"},
		Lines:  []orders.PlaceLine{{SKU: "P1", Quantity: 10}}, PlacedAt: &at,
	})
	if err != nil {
		t.Fatalf("place %s: %v", ref, err)
	}
	return o
}

func serviceOn(t *testing.T, db *sqlstore.DB) (*sqlstore.Store, *orders.Service) {
	t.Helper()
	st := sqltest.Store(t, db)
	sqltest.Seed(t, st)
	svc, err := orders.NewService(st, connected(mallCCB, mallABC), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, svc
}

func TestOrderListCursorIsAKeyset(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		_, svc := serviceOn(t, db)
		ctx := context.Background()
		base := time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing)
		// Nine orders, two of them placed at the same instant (the id breaks the tie).
		before := map[int64]string{}
		for i := range 9 {
			at := base.Add(time.Duration(i) * time.Hour)
			if i == 5 {
				at = base.Add(4 * time.Hour)
			}
			o := placeAt(t, svc, fmt.Sprintf("R%02d", i), at)
			before[o.ID] = o.OrderRef
		}

		seen := map[int64]int{}
		var order []time.Time
		cursor, pages, inserted := "", 0, 0
		for {
			page, next, err := svc.List(ctx, aidOffice, orders.ListFilter{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatalf("page %d: %v", pages+1, err)
			}
			pages++
			for _, o := range page {
				seen[o.ID]++
				order = append(order, o.PlacedAt)
			}
			if next == "" {
				break
			}
			// Between page reads, orders keep coming: a newer one (sorts before the pages
			// read, so it shifted an offset cursor by one) and, once, one older than all.
			inserted++
			placeAt(t, svc, fmt.Sprintf("N%02d", inserted), base.Add(time.Duration(24+inserted)*time.Hour))
			if inserted == 2 {
				placeAt(t, svc, "OLD", base.Add(-24*time.Hour))
			}
			cursor = next
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("order %d listed %d times", id, n)
			}
		}
		for id, ref := range before {
			if seen[id] == 0 {
				t.Errorf("order %d (%s), present before the first page, was skipped", id, ref)
			}
		}
		for i := 1; i < len(order); i++ {
			if order[i].After(order[i-1]) {
				t.Errorf("listing not newest first at position %d: %s after %s", i, order[i], order[i-1])
			}
		}
		// The orders newer than the first page were placed after it was read: a keyset
		// never shows them on later pages; the older one sorts after the cursor and shows.
		if len(seen) != len(before)+1 {
			t.Errorf("listed %d distinct orders, want the %d present at the start and OLD", len(seen), len(before))
		}
	})
}

func TestOrderListRefusesAForgedCursor(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		_, svc := serviceOn(t, db)
		placeAt(t, svc, "R1", time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing))
		for _, c := range []string{"garbage", "2", "eyJ4IjoxfQ", "%%%"} {
			_, _, err := svc.List(context.Background(), aidOffice, orders.ListFilter{Limit: 2, Cursor: c})
			if !errors.Is(err, orders.ErrInvalid) {
				t.Errorf("cursor %q: err = %v, want orders.ErrInvalid", c, err)
			}
		}
	})
}

func TestEventDedupeKeyIsMallOutOrderNoEventID(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		st, svc := serviceOn(t, db)
		ctx := context.Background()
		at := time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing)
		a := placeAt(t, svc, "A", at)
		b := placeAt(t, svc, "B", at.Add(time.Minute))

		t.Run("same_event_id_on_two_orders_of_one_mall_is_two_events", func(t *testing.T) {
			for _, o := range []*orders.GroupOrder{a, b} {
				res, err := svc.Apply(ctx, ev(o, "N-SHARED", orders.EventDelivered, 1, 10, 0, "2019-03-05 14:00"))
				if err != nil || res.Duplicate || res.Parked || res.Held {
					t.Fatalf("order %s: %+v %v, want applied", o.OutOrderNo, res, err)
				}
			}
			for _, o := range []*orders.GroupOrder{a, b} {
				got, err := svc.Get(ctx, aidOffice, o.ID)
				if err != nil || got.Status != orders.StatusDelivered || got.Lines[0].DeliveredQty != 10 {
					t.Fatalf("order %s after its delivery: %+v %v", o.OutOrderNo, got, err)
				}
			}
			var sum money.Fen
			for _, v := range ledger(t, st) {
				sum += v
			}
			if sum != 2*68000 {
				t.Fatalf("ledger total %s, want both deliveries (1360.00)", sum)
			}
		})

		t.Run("same_mall_out_order_no_and_event_id_is_one_effect_even_concurrently", func(t *testing.T) {
			c := placeAt(t, svc, "C", at.Add(2*time.Minute))
			before := ledger(t, st)
			d := ev(c, "N-ONCE", orders.EventDelivered, 1, 10, 0, "2019-03-06 14:00")
			var applied, dups atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for range 10 {
				wg.Go(func() {
					res, err := svc.Apply(ctx, d)
					switch {
					case err != nil:
						errs <- err
					case res.Duplicate:
						dups.Add(1)
					default:
						applied.Add(1)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if applied.Load() != 1 || dups.Load() != 9 {
				t.Fatalf("%d applied, %d duplicates of 10 copies; want 1 and 9", applied.Load(), dups.Load())
			}
			var added money.Fen
			for k, v := range ledger(t, st) {
				added += v - before[k]
			}
			if added != 68000 {
				t.Fatalf("ledger grew by %s, want one delivery (680.00)", added)
			}
			// The same event id at the other mall is another mall's event: not a duplicate.
			other := d
			other.Mall = mallABC
			if res, err := svc.Apply(ctx, other); err != nil || res.Duplicate {
				t.Fatalf("same id from ABC: %+v %v, want not a duplicate of CCB's", res, err)
			}
		})
	})
}
