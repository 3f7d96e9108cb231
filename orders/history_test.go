package orders_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"aidmall/orders"
)

func historyOrder() orders.HistoryOrder {
	return orders.HistoryOrder{OrderRef: "2018-HQ-0001", BranchCode: "HQ", Mall: mallCCB, Funding: orders.FundingUnion, DeliveryMode: orders.DeliveryBulk,
		PlacedAt: time.Date(2018, 12, 20, 10, 15, 22, 0, time.FixedZone("CST", 8*3600)), OutOrderNo: "AM20181220101522000002",
		MallOrderNo: "CCB20181220000163", Lines: []orders.HistoryLine{{LineNo: 1, SKU: "YC-APL-5KG-DZ", Quantity: 150, UnitPrice: 6800}}}
}

func TestLoadHistory(t *testing.T) {
	t.Parallel()
	t.Run("history_is_stored_at_its_mall_with_its_numbers_and_no_dispatch", func(t *testing.T) {
		t.Parallel()
		svc, st := newTestService(t)
		o, created, err := svc.LoadHistory(context.Background(), office, historyOrder())
		if err != nil || !created {
			t.Fatalf("created %v err %v", created, err)
		}
		if o.OutOrderNo != "AM20181220101522000002" || o.MallOrderNo != "CCB20181220000163" || !o.Submitted || o.Status != orders.StatusSubmitted {
			t.Fatalf("order %+v", o)
		}
		if o.Lines[0].UnitPrice != 6800 || o.Lines[0].ItemID == "" {
			t.Fatalf("line %+v", o.Lines[0])
		}
		_, again, err := svc.LoadHistory(context.Background(), office, historyOrder())
		if err != nil || again {
			t.Fatalf("loading again: created %v err %v, want unchanged", again, err)
		}
		if n, _ := st.counts(); n != 1 {
			t.Fatalf("%d orders stored, want 1", n)
		}
	})
	t.Run("only_aid_office_loads_history", func(t *testing.T) {
		t.Parallel()
		svc, _ := newTestService(t)
		if _, _, err := svc.LoadHistory(context.Background(), hqStaff, historyOrder()); !errors.Is(err, orders.ErrForbidden) {
			t.Fatalf("err %v, want ErrForbidden", err)
		}
	})
	t.Run("every_bad_field_is_named", func(t *testing.T) {
		t.Parallel()
		svc, _ := newTestService(t)
		h := historyOrder()
		h.Mall, h.OutOrderNo, h.BranchCode = "icbc", "AM-1", "ZZ"
		h.Lines = []orders.HistoryLine{{LineNo: 1, SKU: "NOPE", Quantity: 0, UnitPrice: 0}, {LineNo: 1, SKU: "YC-APL-5KG-DZ", Quantity: 1, UnitPrice: 1}}
		_, _, err := svc.LoadHistory(context.Background(), office, h)
		got := fmt.Sprint(pointers(err))
		want := fmt.Sprint([]string{"/mall", "/out_order_no", "/branch_code", "/lines/0/sku", "/lines/0/quantity", "/lines/0/unit_price", "/lines/1/line_no"})
		if got != want {
			t.Fatalf("pointers %s, want %s", got, want)
		}
	})
}
