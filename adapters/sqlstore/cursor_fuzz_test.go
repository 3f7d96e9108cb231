package sqlstore_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"aidmall/adapters/sqlstore"
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
	f.Fuzz(func(t *testing.T, cursor string) { checkCursor(t, fx, all, cursor) })
}

// checkCursor lists fx's orders from cursor and checks the answer against all, the
// full listing (see FuzzListOrdersCursor).
func checkCursor(t *testing.T, fx *fixture, all []orders.GroupOrder, cursor string) {
	t.Helper()
	ctx := context.Background()
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
}

// The hostile cursors of the seed corpus, on SQLite and PostgreSQL: a page or ErrInvalid,
// never a database error (PostgreSQL refuses what SQLite stores, e.g. NUL bytes and
// out-of-range times).
func TestListOrdersCursor_hostileCursorsOnEachDatabase(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		fx := newFixture(t, func(testing.TB) *sqlstore.DB { return db })
		for i := range 3 {
			fx.place(t, fmt.Sprintf("H%d", i), mallCCB, orders.PlaceLine{SKU: "P1", Quantity: 1})
		}
		all, _, err := fx.store.ListOrders(context.Background(), orders.ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		b := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, c := range []string{"garbage", "!!!%00", "\x00", b("1551405600000000000.3"), b("-9223372036854775808.9223372036854775807"),
			b("9223372036854775807.-1"), b("99999999999999999999.1"), b("+1.+1"), b("."), b("1\x00.2"), b("1.2.3"), "+/+/", b("0.0")} {
			t.Run(c, func(t *testing.T) { checkCursor(t, fx, all, c) })
		}
	})
}
