package orders_test

import (
	"context"
	"fmt"
	"testing"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

func TestRoutingFollowsTheConnectedMalls(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		connected []orders.Mall
		ask       orders.Mall
		want      orders.Mall // "" when refused
		pointer   string      // the refusal's pointer
	}{
		{"auto_picks_the_cheaper_mall_ccb_68_00_against_abc_69_00", []orders.Mall{mallCCB, mallABC}, orders.MallAuto, mallCCB, ""},
		{"auto_skips_a_mall_that_is_not_connected", []orders.Mall{mallABC}, orders.MallAuto, mallABC, ""},
		{"auto_with_no_mall_connected_is_refused", nil, orders.MallAuto, "", "/mall"},
		{"a_named_mall_that_is_not_connected_is_refused", []orders.Mall{mallABC}, mallCCB, "", "/mall"},
		{"a_named_connected_mall_is_used", []orders.Mall{mallABC}, mallABC, mallABC, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestServiceWith(t, sqltest.SQLite, tc.connected)
			req := bulkRequest()
			req.Mall = tc.ask
			o, err := svc.Place(context.Background(), office, req)
			if tc.want == "" {
				if p := pointers(err); len(p) != 1 || p[0] != tc.pointer {
					t.Fatalf("err %v (pointers %v), want a refusal at %s", err, p, tc.pointer)
				}
				return
			}
			if err != nil || o.Mall != tc.want {
				t.Fatalf("placed at %v (err %v), want %s", o, err, tc.want)
			}
		})
	}
}

func TestAutoPicksTheLowestTotal(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	req := bulkRequest()
	req.Mall = orders.MallAuto
	// YC-APL-10KG-DZ: CCB 118.00, ABC 116.00 (the bundle's products.csv).
	req.Lines = []orders.PlaceLine{{SKU: "YC-APL-10KG-DZ", Quantity: 10}}
	o, err := svc.Place(context.Background(), office, req)
	if err != nil || o.Mall != mallABC || o.Total() != 116000 {
		t.Fatalf("order %v err %v, want ABC at 1160.00", o, err)
	}
}

func TestAutoHonoursTheUnitPriceTheClientSaw(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	req := bulkRequest()
	req.Mall = orders.MallAuto
	// CCB lists YC-APL-5KG-DZ at 68.00 and ABC at 69.00: a client that saw 69.00 gets ABC.
	req.Lines = []orders.PlaceLine{{SKU: "YC-APL-5KG-DZ", Quantity: 1, UnitPrice: fen(6900)}}
	o, err := svc.Place(context.Background(), office, req)
	if err != nil || o.Mall != mallABC {
		t.Fatalf("order %v err %v, want ABC", o, err)
	}
	req.Lines[0].UnitPrice = fen(6500) // nobody's price: the cheapest mall names the line
	_, err = svc.Place(context.Background(), office, req)
	if p := fmt.Sprint(pointers(err)); p != "[/lines/0/unit_price]" {
		t.Fatalf("pointers %s, want [/lines/0/unit_price]", p)
	}
}

func TestShipToPhoneMustLookLikeAPhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		phone string
		ok    bool
	}{
		{"13800001234", true}, {"010-68001234", true}, {"+86 138 0000 1234", true}, {"(0911)4119289", true},
		{"0086-10-68001234", true}, {"138 0013 8000", true},
		{"123", false}, {"call me", false}, {"1380000123456789012345", false},
		// Masked or placeholder numbers reach no one.
		{"138****0000", false}, {"*******", false}, {"138xxxx1234", false}, {"010-00000000", false},
		{"00000000", false}, {"11111111111", false}, {"12345678", false}, {"98765432", false},
		{"+86 88888888888", false}, {"12800001234", false}, {"１３８００００１２３４", false}, {"13800001234\x00", false},
	} {
		t.Run(fmt.Sprintf("phone_%q", tc.phone), func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestService(t)
			req := bulkRequest()
			req.ShipTo.Phone = tc.phone
			_, err := svc.Place(context.Background(), office, req)
			if (err == nil) != tc.ok {
				t.Fatalf("phone %q: err %v, want accepted=%v", tc.phone, err, tc.ok)
			}
			if !tc.ok {
				if p := pointers(err); len(p) != 1 || p[0] != "/ship_to/phone" {
					t.Fatalf("pointers %v, want /ship_to/phone", p)
				}
			}
		})
	}
}

func TestOneAnswerNamesEveryBadField(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	req := bulkRequest()
	req.BranchCode = "ZZ"
	req.Funding = "gift"
	req.ShipTo.Phone = "123"
	req.Lines = []orders.PlaceLine{{SKU: "NO-SUCH-SKU", Quantity: 0}, {SKU: "YC-APL-5KG-DZ", Quantity: 1, UnitPrice: fen(100)}}
	_, err := svc.Place(context.Background(), office, req)
	got := fmt.Sprint(pointers(err))
	want := fmt.Sprint([]string{"/funding", "/ship_to/phone", "/lines/0/quantity", "/branch_code", "/lines/0/sku", "/lines/1/unit_price"})
	if got != want {
		t.Fatalf("pointers %s, want %s", got, want)
	}
}
