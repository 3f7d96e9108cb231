package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// ListFilter.OrderRef finds a branch's order by its own reference, exactly (not a prefix);
// on SQLite and PostgreSQL.
func TestListOrdersByOrderRef(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		st, svc := serviceOn(t, db)
		ids := map[string]int64{}
		for _, ref := range []string{"2019-HQ-1", "2019-HQ-10", "2019-HQ-2"} {
			ids[ref] = placeAt(t, svc, ref, time.Date(2019, 3, 1, 2, 0, 0, 0, time.UTC)).ID
		}
		got, _, err := st.ListOrders(ctx, orders.ListFilter{OrderRef: "2019-HQ-1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != ids["2019-HQ-1"] || len(got[0].Lines) != 1 {
			t.Fatalf("order_ref 2019-HQ-1: %+v", got)
		}
		if none, _, err := st.ListOrders(ctx, orders.ListFilter{OrderRef: "2019-HQ"}); err != nil || len(none) != 0 {
			t.Fatalf("a prefix matched %d orders (%v)", len(none), err)
		}
	})
}
