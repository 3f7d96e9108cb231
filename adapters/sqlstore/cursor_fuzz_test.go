package sqlstore_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// FuzzListOrdersCursor gives the order list any cursor, as a client's ?cursor= would: the
// store answers a page or orders.ErrInvalid (a 400 on the API), never another error (a
// 500); paging on from a page it answers, with the cursors it hands out, gives the rest of
// the full listing from that page's first order, in order and each once (the round trip).
// Seeds: the cursors of a real listing, garbage, base64 of junk, out-of-range numbers
// (testdata/fuzz/FuzzListOrdersCursor).
func FuzzListOrdersCursor(f *testing.F) {
	fx := newFixture(f, sqltest.SQLite)
	ctx := context.Background()
	for i := range 5 {
		fx.place(f, fmt.Sprintf("C%d", i), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1})
	}
	all, _, err := fx.store.ListOrders(ctx, orders.ListFilter{})
	if err != nil || len(all) != 5 {
		f.Fatalf("%d orders listed: %v", len(all), err)
	}
	_, next, err := fx.store.ListOrders(ctx, orders.ListFilter{Limit: 2})
	if err != nil || next == "" {
		f.Fatalf("first page: next %q, %v", next, err)
	}
	f.Add(next)
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("9223372036854775807.-1")))
	f.Fuzz(func(t *testing.T, cursor string) {
		page, next, err := fx.store.ListOrders(ctx, orders.ListFilter{Cursor: cursor, Limit: 2})
		if err != nil {
			if !errors.Is(err, orders.ErrInvalid) {
				t.Fatalf("cursor %q: %v, want a page or ErrInvalid", cursor, err)
			}
			return
		}
		if cursor == "" {
			return
		}
		got := page
		for next != "" {
			more, n, err := fx.store.ListOrders(ctx, orders.ListFilter{Cursor: next, Limit: 2})
			if err != nil {
				t.Fatalf("the store's own cursor %q refused: %v", next, err)
			}
			got, next = append(got, more...), n
			if len(got) > len(all) {
				t.Fatalf("paging from %q listed %d orders of %d", cursor, len(got), len(all))
			}
		}
		if len(got) == 0 {
			return
		}
		at := -1
		for i, o := range all {
			if o.ID == got[0].ID {
				at = i
			}
		}
		if at < 0 || len(all)-at != len(got) {
			t.Fatalf("paging from %q gave %d orders starting at id %d; want the %d after it in the listing", cursor, len(got), got[0].ID, len(all)-at)
		}
		for i, o := range got {
			if o.ID != all[at+i].ID {
				t.Fatalf("paging from %q: order %d is id %d, want %d", cursor, i, o.ID, all[at+i].ID)
			}
		}
	})
}
