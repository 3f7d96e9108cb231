package orders_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/money"
	"aidmall/orders"
)

// testNow is the service clock in these tests: 20 November 2019, 10:00 Beijing.
var testNow = time.Date(2019, 11, 20, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

var (
	hqStaff  = orders.Caller{KeyID: 1, Name: "HQ staff", Role: orders.RoleBranchStaff, BranchCode: "HQ"}
	s01Staff = orders.Caller{KeyID: 2, Name: "S01 staff", Role: orders.RoleBranchStaff, BranchCode: "S01"}
	office   = orders.Caller{KeyID: 3, Name: "扶贫办", Role: orders.RoleAidOffice}
	auditor  = orders.Caller{KeyID: 4, Name: "审计", Role: orders.RoleAuditor}
)

// bulkRequest is a valid HQ order of 20 boxes of YC-APL-5KG-DZ at CCB, one consignment.
func bulkRequest() orders.PlaceRequest {
	return orders.PlaceRequest{
		OrderRef: "2019-HQ-0042", BranchCode: "HQ", Mall: mallCCB, Funding: orders.FundingUnion,
		DeliveryMode: orders.DeliveryBulk,
		ShipTo:       orders.ShipTo{Name: "王芳", Phone: "13800000000", Address: "北京市海淀区复兴路 1 号"},
		Lines:        []orders.PlaceLine{{SKU: "YC-APL-5KG-DZ", Quantity: 20}},
	}
}

func fen(f money.Fen) *money.Fen { return &f }

func recipient(name string, qty int64) orders.Recipient {
	return orders.Recipient{Name: name, Phone: "13900000000", Address: "陕西省延安市宜川县", Quantity: qty}
}

func pointers(err error) []string {
	var ve *orders.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Pointer
	}
	return out
}

func TestNewServiceRejectsNilStore(t *testing.T) {
	t.Parallel()
	if _, err := orders.NewService(nil, nil, nil); err == nil {
		t.Fatal("NewService(nil store) succeeded")
	}
}

func TestPlaceRefusesBadContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		caller orders.Caller
		edit   func(*orders.PlaceRequest)
		want   []string
	}{
		{"order_ref_missing", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = "" }, []string{"/order_ref"}},
		{"order_ref_blank", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = "   " }, []string{"/order_ref"}},
		{"order_ref_with_a_tab", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = "K13\t" }, []string{"/order_ref"}},
		{"order_ref_with_nul", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = "K13\x00" }, []string{"/order_ref"}},
		{"order_ref_with_a_space_inside", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = "2019 HQ 42" }, []string{"/order_ref"}},
		{"order_ref_not_utf8", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = "K\xc0\xaf13" }, []string{"/order_ref"}},
		{"branch_code_with_nul", office, func(r *orders.PlaceRequest) { r.BranchCode = "HQ\x00" }, []string{"/branch_code"}},
		{"branch_code_not_a_code", office, func(r *orders.PlaceRequest) { r.BranchCode = "H Q" }, []string{"/branch_code"}},
		{"sku_with_control_character", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].SKU = "YC-APL-5KG-DZ\u0085" }, []string{"/lines/0/sku"}},
		{"ship_to_name_with_nul", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Name = "王\x00芳" }, []string{"/ship_to/name"}},
		{"ship_to_address_with_line_break", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Address = "北京市\n海淀区" }, []string{"/ship_to/address"}},
		{"ship_to_address_with_bidi_override", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Address = "北京市\u202e区淀海" }, []string{"/ship_to/address"}},
		{"ship_to_name_with_replacement_character", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Name = "\ufffd\ufffd" }, []string{"/ship_to/name"}},
		{"ship_to_address_too_long", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Address = strings.Repeat("路", orders.MaxAddressLen+1) }, []string{"/ship_to/address"}},
		{"ship_to_phone_masked", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Phone = "138****1234" }, []string{"/ship_to/phone"}},
		{"too_many_lines", hqStaff, func(r *orders.PlaceRequest) {
			for len(r.Lines) <= orders.MaxLines {
				r.Lines = append(r.Lines, r.Lines[0])
			}
		}, []string{"/lines"}},
		{"too_many_recipients", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode, r.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
			r.Lines[0].Quantity = orders.MaxRecipients + 1
			for range orders.MaxRecipients + 1 {
				r.Lines[0].Recipients = append(r.Lines[0].Recipients, recipient("李明", 1))
			}
		}, []string{"/lines"}},
		{"order_ref_over_64_characters", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = strings.Repeat("A", 65) }, []string{"/order_ref"}},
		{"branch_code_missing", office, func(r *orders.PlaceRequest) { r.BranchCode = "" }, []string{"/branch_code"}},
		{"unknown_branch", office, func(r *orders.PlaceRequest) { r.BranchCode = "S99" }, []string{"/branch_code"}},
		{"unknown_sku", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].SKU = "YC-APL-9KG-XX" }, []string{"/lines/0/sku"}},
		{"unknown_sku_on_second_line", hqStaff, func(r *orders.PlaceRequest) {
			r.Lines = append(r.Lines, orders.PlaceLine{SKU: "NOPE", Quantity: 1})
		}, []string{"/lines/1/sku"}},
		{"sku_missing", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].SKU = "" }, []string{"/lines/0/sku"}},
		{"unknown_mall", hqStaff, func(r *orders.PlaceRequest) { r.Mall = "icbc" }, []string{"/mall"}},
		{"mall_missing", hqStaff, func(r *orders.PlaceRequest) { r.Mall = "" }, []string{"/mall"}},
		{"unknown_funding", hqStaff, func(r *orders.PlaceRequest) { r.Funding = "gift" }, []string{"/funding"}},
		{"funding_missing", hqStaff, func(r *orders.PlaceRequest) { r.Funding = "" }, []string{"/funding"}},
		{"unknown_delivery_mode", hqStaff, func(r *orders.PlaceRequest) { r.DeliveryMode = "express" }, []string{"/delivery_mode"}},
		{"no_lines", hqStaff, func(r *orders.PlaceRequest) { r.Lines = nil }, []string{"/lines"}},
		{"quantity_zero", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].Quantity = 0 }, []string{"/lines/0/quantity"}},
		{"quantity_negative", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].Quantity = -20 }, []string{"/lines/0/quantity"}},
		{"quantity_above_max", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].Quantity = orders.MaxQuantity + 1 }, []string{"/lines/0/quantity"}},
		{"unit_price_zero", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].UnitPrice = fen(0) }, []string{"/lines/0/unit_price"}},
		{"unit_price_negative", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].UnitPrice = fen(-6800) }, []string{"/lines/0/unit_price"}},
		{"bulk_ship_to_name_missing", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Name = "" }, []string{"/ship_to/name"}},
		{"bulk_ship_to_phone_blank", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Phone = "  " }, []string{"/ship_to/phone"}},
		{"bulk_ship_to_address_missing", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo.Address = "" }, []string{"/ship_to/address"}},
		{"bulk_without_ship_to", hqStaff, func(r *orders.PlaceRequest) { r.ShipTo = orders.ShipTo{} },
			[]string{"/ship_to/name", "/ship_to/phone", "/ship_to/address"}},
		{"recipients_on_bulk_refused", hqStaff, func(r *orders.PlaceRequest) {
			r.Lines[0].Recipients = []orders.Recipient{recipient("李明", 20)}
		}, []string{"/lines/0/recipients"}},
		{"per_recipient_quantities_not_adding_up", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode, r.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
			r.Lines[0].Recipients = []orders.Recipient{recipient("李明", 8), recipient("赵强", 10)}
		}, []string{"/lines/0/recipients"}},
		{"per_recipient_recipient_without_quantity", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode, r.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
			r.Lines[0].Recipients = []orders.Recipient{recipient("李明", 20), recipient("赵强", 0)}
		}, []string{"/lines/0/recipients/1/quantity"}},
		{"per_recipient_recipient_without_address", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode, r.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
			r.Lines[0].Recipients = []orders.Recipient{recipient("李明", 20)}
			r.Lines[0].Recipients[0].Address = " "
		}, []string{"/lines/0/recipients/0/address"}},
		{"per_recipient_recipient_with_placeholder_phone", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode, r.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
			r.Lines[0].Recipients = []orders.Recipient{recipient("李明", 20)}
			r.Lines[0].Recipients[0].Phone = "*******"
		}, []string{"/lines/0/recipients/0/phone"}},
		{"per_recipient_line_without_recipients_points_at_them", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode, r.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
		}, []string{"/lines/0/recipients"}},
		{"per_recipient_with_ship_to_and_no_recipients", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode = orders.DeliveryPerRecipient
		}, []string{"/lines/0/recipients"}},
		{"unit_price_of_other_mall_refused", hqStaff, func(r *orders.PlaceRequest) {
			r.Lines[0].UnitPrice = fen(6900) // ABC's price; CCB lists 68.00
		}, []string{"/lines/0/unit_price"}},
		{"unit_price_differing_on_second_line", hqStaff, func(r *orders.PlaceRequest) {
			r.Lines[0].UnitPrice = fen(6800)
			r.Lines = append(r.Lines, orders.PlaceLine{SKU: "YC-WKN-500G-HH", Quantity: 3, UnitPrice: fen(3900)})
		}, []string{"/lines/1/unit_price"}},
		{"named_mall_does_not_list_sku", hqStaff, func(r *orders.PlaceRequest) {
			r.Mall, r.Lines[0].SKU = mallABC, "YC-APL-5KG-HK"
		}, []string{"/lines/0/sku"}},
		{"named_mall_does_not_list_one_line", hqStaff, func(r *orders.PlaceRequest) {
			r.Lines = append(r.Lines, orders.PlaceLine{SKU: "YC-PEP-250G-ZS", Quantity: 10}, orders.PlaceLine{SKU: "YC-WKN-500G-HH", Quantity: 10})
		}, []string{"/lines/1/sku"}},
		{"auto_with_no_mall_listing_every_line", hqStaff, func(r *orders.PlaceRequest) {
			r.Mall = orders.MallAuto
			r.Lines = []orders.PlaceLine{{SKU: "YC-APL-5KG-HK", Quantity: 5}, {SKU: "YC-PEP-250G-ZS", Quantity: 5}}
		}, []string{"/mall"}},
		{"placed_at_more_than_a_day_ahead", office, func(r *orders.PlaceRequest) {
			at := testNow.Add(24*time.Hour + time.Minute)
			r.PlacedAt = &at
		}, []string{"/placed_at"}},
		{"placed_at_before_2015", office, func(r *orders.PlaceRequest) {
			at := time.Date(1990, 3, 1, 10, 0, 0, 0, time.UTC)
			r.PlacedAt = &at
		}, []string{"/placed_at"}},
		{"placed_at_a_second_before_2015_in_beijing", office, func(r *orders.PlaceRequest) {
			at := time.Date(2014, 12, 31, 15, 59, 59, 0, time.UTC)
			r.PlacedAt = &at
		}, []string{"/placed_at"}},
		{"every_bad_field_is_listed", hqStaff, func(r *orders.PlaceRequest) {
			r.OrderRef, r.Funding, r.Lines[0].Quantity = "", "", 0
		}, []string{"/order_ref", "/funding", "/lines/0/quantity"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			req := bulkRequest()
			tc.edit(&req)
			o, err := svc.Place(context.Background(), tc.caller, req)
			if !errors.Is(err, orders.ErrInvalid) {
				t.Fatalf("Place = %+v, %v; want ErrInvalid", o, err)
			}
			if got := pointers(err); !slices.Equal(got, tc.want) {
				t.Fatalf("pointers = %q, want %q (%v)", got, tc.want, err)
			}
			if created, _ := st.counts(); created != 0 {
				t.Fatalf("a refused order was stored")
			}
		})
	}
}

func TestPlaceRefusesCallersWithoutTheRight(t *testing.T) {
	t.Parallel()
	past := time.Date(2018, 12, 19, 16, 29, 22, 0, time.FixedZone("CST", 8*3600))
	tests := []struct {
		name   string
		caller orders.Caller
		edit   func(*orders.PlaceRequest)
	}{
		{"auditor", auditor, func(*orders.PlaceRequest) {}},
		{"unknown_role", orders.Caller{Role: "admin", BranchCode: "HQ"}, func(*orders.PlaceRequest) {}},
		{"branch_staff_for_another_branch", s01Staff, func(*orders.PlaceRequest) {}},
		{"branch_key_without_branch", orders.Caller{Role: orders.RoleBranchStaff}, func(*orders.PlaceRequest) {}},
		{"branch_staff_backdating", hqStaff, func(r *orders.PlaceRequest) { r.PlacedAt = &past }},
		{"branch_staff_setting_placed_at_to_now", hqStaff, func(r *orders.PlaceRequest) { at := testNow; r.PlacedAt = &at }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			req := bulkRequest()
			tc.edit(&req)
			if _, err := svc.Place(context.Background(), tc.caller, req); !errors.Is(err, orders.ErrForbidden) {
				t.Fatalf("Place = %v, want ErrForbidden", err)
			}
			if created, _ := st.counts(); created != 0 {
				t.Fatalf("a forbidden order was stored")
			}
		})
	}
}

func TestPlacePricesAndRoutes(t *testing.T) {
	t.Parallel()
	type wantLine struct {
		sku    string
		itemID string
		price  money.Fen
	}
	tests := []struct {
		name      string
		edit      func(*orders.PlaceRequest)
		wantMall  orders.Mall
		wantLines []wantLine
		wantTotal money.Fen
	}{
		{"ccb_order_priced_from_ccb_listing", func(*orders.PlaceRequest) {}, mallCCB,
			[]wantLine{{"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}}, 136000},
		{"abc_order_priced_from_abc_listing", func(r *orders.PlaceRequest) { r.Mall = mallABC }, mallABC,
			[]wantLine{{"YC-APL-5KG-DZ", "ABC-770031", 6900}}, 138000},
		{"auto_prefers_ccb_when_both_list", func(r *orders.PlaceRequest) { r.Mall = orders.MallAuto }, mallCCB,
			[]wantLine{{"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}}, 136000},
		{"auto_takes_abc_when_ccb_misses_a_line", func(r *orders.PlaceRequest) {
			r.Mall = orders.MallAuto
			r.Lines = append(r.Lines, orders.PlaceLine{SKU: "YC-PEP-250G-ZS", Quantity: 10})
		}, mallABC, []wantLine{{"YC-APL-5KG-DZ", "ABC-770031", 6900}, {"YC-PEP-250G-ZS", "ABC-771266", 3990}}, 138000 + 39900},
		{"auto_takes_ccb_for_ccb_only_sku", func(r *orders.PlaceRequest) {
			r.Mall, r.Lines[0].SKU = orders.MallAuto, "YC-APL-5KG-HK"
		}, mallCCB, []wantLine{{"YC-APL-5KG-HK", "CCB-YC-APL-05H", 7200}}, 144000},
		// The malls take two lines of one SKU and old order sheets hold them: each is its own
		// line, told apart by line_no.
		{"two_lines_of_one_sku_are_two_lines", func(r *orders.PlaceRequest) {
			r.Lines = append(r.Lines, orders.PlaceLine{SKU: "YC-APL-5KG-DZ", Quantity: 5})
		}, mallCCB, []wantLine{{"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}, {"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}}, 25 * 6800},
		{"matching_unit_price_is_accepted", func(r *orders.PlaceRequest) {
			r.Mall, r.Lines[0].UnitPrice = mallABC, fen(6900)
		}, mallABC, []wantLine{{"YC-APL-5KG-DZ", "ABC-770031", 6900}}, 138000},
		{"lines_numbered_in_request_order", func(r *orders.PlaceRequest) {
			r.Lines = []orders.PlaceLine{{SKU: "YC-WKN-500G-HH", Quantity: 3}, {SKU: "YC-APL-5KG-DZ", Quantity: 1}}
		}, mallCCB, []wantLine{{"YC-WKN-500G-HH", "CCB-YC-WKN-500", 3980}, {"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}}, 11940 + 6800},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			req := bulkRequest()
			tc.edit(&req)
			o, err := svc.Place(context.Background(), hqStaff, req)
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if o.Mall != tc.wantMall {
				t.Fatalf("mall = %s, want %s", o.Mall, tc.wantMall)
			}
			if len(o.Lines) != len(tc.wantLines) {
				t.Fatalf("%d lines, want %d", len(o.Lines), len(tc.wantLines))
			}
			for i, w := range tc.wantLines {
				l := o.Lines[i]
				if l.LineNo != i+1 || l.SKU != w.sku || l.ItemID != w.itemID || l.UnitPrice != w.price {
					t.Errorf("line %d = no %d %s %s at %s; want no %d %s %s at %s",
						i, l.LineNo, l.SKU, l.ItemID, l.UnitPrice, i+1, w.sku, w.itemID, w.price)
				}
			}
			if o.Total() != tc.wantTotal {
				t.Errorf("total = %s, want %s", o.Total(), tc.wantTotal)
			}
			stored, err := st.Order(context.Background(), o.ID)
			if err != nil {
				t.Fatalf("order not stored: %v", err)
			}
			if stored.Mall != o.Mall || stored.Total() != o.Total() || stored.Status != orders.StatusPending {
				t.Errorf("stored %s %s %s, returned %s %s", stored.Mall, stored.Total(), stored.Status, o.Mall, o.Total())
			}
		})
	}
}

func TestPlaceAccepts(t *testing.T) {
	t.Parallel()
	back := time.Date(2018, 12, 19, 16, 29, 22, 0, time.FixedZone("CST", 8*3600))
	skew := testNow.Add(time.Minute)
	tests := []struct {
		name   string
		caller orders.Caller
		edit   func(*orders.PlaceRequest)
		check  func(t *testing.T, o *orders.GroupOrder)
	}{
		{"placed_now_by_branch_staff", hqStaff, func(*orders.PlaceRequest) {}, func(t *testing.T, o *orders.GroupOrder) {
			if !o.PlacedAt.Equal(testNow) || o.BranchCode != "HQ" || o.Funding != orders.FundingUnion || o.DeliveryMode != orders.DeliveryBulk {
				t.Errorf("order = %+v", o)
			}
			if !specLimits.ValidOutOrderNo(o.OutOrderNo) || len(o.OutOrderNo) != orders.OutOrderNoLen || !strings.HasPrefix(string(o.OutOrderNo), "AM") {
				t.Errorf("out_order_no = %q, want AM and a ULID", o.OutOrderNo)
			}
			if o.BuyerName == "" {
				t.Errorf("buyer_name not fixed at placing")
			}
		}},
		{"aid_office_backdates", office, func(r *orders.PlaceRequest) { r.PlacedAt = &back }, func(t *testing.T, o *orders.GroupOrder) {
			if !o.PlacedAt.Equal(back) || !strings.HasPrefix(string(o.OutOrderNo), "AM") {
				t.Errorf("placed_at %s, out_order_no %s", o.PlacedAt, o.OutOrderNo)
			}
		}},
		{"aid_office_places_for_any_branch", office, func(r *orders.PlaceRequest) { r.BranchCode = "S01" }, func(t *testing.T, o *orders.GroupOrder) {
			if o.BranchCode != "S01" {
				t.Errorf("branch = %s", o.BranchCode)
			}
		}},
		{"placed_at_a_minute_ahead_is_clock_skew", office, func(r *orders.PlaceRequest) { r.PlacedAt = &skew }, func(t *testing.T, o *orders.GroupOrder) {
			if !o.PlacedAt.Equal(skew) {
				t.Errorf("placed_at = %s", o.PlacedAt)
			}
		}},
		{"order_ref_trimmed", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = "  2019-HQ-0042 " }, func(t *testing.T, o *orders.GroupOrder) {
			if o.OrderRef != "2019-HQ-0042" {
				t.Errorf("order_ref = %q", o.OrderRef)
			}
		}},
		{"order_ref_of_64_characters", hqStaff, func(r *orders.PlaceRequest) { r.OrderRef = strings.Repeat("A", 64) }, func(*testing.T, *orders.GroupOrder) {}},
		{"order_ref_of_64_chinese_characters", hqStaff, func(r *orders.PlaceRequest) {
			r.OrderRef = strings.Repeat("工会", 32) // 64 characters, 192 bytes
		}, func(*testing.T, *orders.GroupOrder) {}},
		{"quantity_of_max", hqStaff, func(r *orders.PlaceRequest) { r.Lines[0].Quantity = orders.MaxQuantity }, func(t *testing.T, o *orders.GroupOrder) {
			if o.Total() != orders.MaxQuantity*6800 {
				t.Errorf("total = %s", o.Total())
			}
		}},
		{"placed_at_just_under_a_day_ahead", office, func(r *orders.PlaceRequest) {
			at := testNow.Add(23 * time.Hour)
			r.PlacedAt = &at
		}, func(*testing.T, *orders.GroupOrder) {}},
		{"placed_at_the_first_instant_of_2015_in_beijing", office, func(r *orders.PlaceRequest) {
			at := time.Date(2014, 12, 31, 16, 0, 0, 0, time.UTC)
			r.PlacedAt = &at
		}, func(*testing.T, *orders.GroupOrder) {}},
		{"text_stored_nfc", hqStaff, func(r *orders.PlaceRequest) {
			r.OrderRef = "Cafe\u0301-1"           // e + combining acute accent
			r.ShipTo.Name = "Jose\u0301 Li"       // as typed on some keyboards
			r.ShipTo.Address = "北京市 Cafe\u0301 路" // compared when the mall echoes it back
		}, func(t *testing.T, o *orders.GroupOrder) {
			if o.OrderRef != "Caf\u00e9-1" || o.ShipTo.Name != "Jos\u00e9 Li" || o.ShipTo.Address != "北京市 Caf\u00e9 路" {
				t.Errorf("not NFC: %q %q %q", o.OrderRef, o.ShipTo.Name, o.ShipTo.Address)
			}
		}},
		{"phones_with_country_code_and_landlines", hqStaff, func(r *orders.PlaceRequest) {
			r.ShipTo.Phone = "+86 138 0013 8000"
		}, func(*testing.T, *orders.GroupOrder) {}},
		{"per_recipient_with_ship_to_and_recipients", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode = orders.DeliveryPerRecipient
			r.Lines[0].Recipients = []orders.Recipient{recipient("李明", 20)}
		}, func(t *testing.T, o *orders.GroupOrder) {
			if o.ShipTo.Name != "王芳" || len(o.Lines[0].Recipients) != 1 {
				t.Errorf("order = %+v", o)
			}
		}},
		{"per_recipient_with_every_line_addressed_needs_no_ship_to", hqStaff, func(r *orders.PlaceRequest) {
			r.DeliveryMode, r.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
			r.Lines[0].Recipients = []orders.Recipient{recipient("李明", 8), recipient("赵强", 12)}
		}, func(t *testing.T, o *orders.GroupOrder) {
			if len(o.Lines[0].Recipients) != 2 || o.Lines[0].Recipients[1].Quantity != 12 {
				t.Errorf("recipients = %+v", o.Lines[0].Recipients)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestService(t)
			req := bulkRequest()
			tc.edit(&req)
			o, err := svc.Place(context.Background(), tc.caller, req)
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if o.ID == 0 || !specLimits.ValidOutOrderNo(o.OutOrderNo) {
				t.Fatalf("order not stored: id %d, out_order_no %q", o.ID, o.OutOrderNo)
			}
			tc.check(t, o)
		})
	}
}

func TestPlaceSameOrderRefTwiceIsConflict(t *testing.T) {
	t.Parallel()
	svc, st := newTestService(t)
	ctx := context.Background()
	if _, err := svc.Place(ctx, hqStaff, bulkRequest()); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Place(ctx, hqStaff, bulkRequest())
	if !errors.Is(err, orders.ErrConflict) {
		t.Fatalf("second Place = %v, want ErrConflict", err)
	}
	if got, want := orders.ErrorMessage(err), fmt.Sprintf("branch HQ already has an order with order_ref %q", bulkRequest().OrderRef); got != want {
		t.Errorf("client message %q, want %q", got, want)
	}
	// Another branch may use the same reference.
	other := bulkRequest()
	other.BranchCode = "S01"
	if _, err := svc.Place(ctx, s01Staff, other); err != nil {
		t.Fatalf("S01 with HQ's order_ref: %v", err)
	}
	if created, _ := st.counts(); created != 2 {
		t.Fatalf("%d orders stored, want 2", created)
	}
}

// seedOrders places order 1 of HQ and order 2 of S01.
func seedOrders(t *testing.T, svc *orders.Service) {
	t.Helper()
	hq := bulkRequest()
	hq.OrderRef = "2019-HQ-0001"
	s01 := bulkRequest()
	s01.OrderRef, s01.BranchCode, s01.Mall, s01.Lines[0].SKU = "2019-S01-0001", "S01", mallABC, "YC-PEP-250G-ZS"
	for i, r := range []orders.PlaceRequest{hq, s01} {
		o, err := svc.Place(context.Background(), office, r)
		if err != nil || o.ID != int64(i+1) {
			t.Fatalf("seed order %d: %+v, %v", i+1, o, err)
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		caller  orders.Caller
		id      int64
		wantErr error
	}{
		{"branch_staff_reads_own_order", hqStaff, 1, nil},
		{"aid_office_reads_any_order", office, 2, nil},
		{"other_branch_order_looks_absent", hqStaff, 2, orders.ErrNotFound},
		{"auditor_reads_no_order", auditor, 1, orders.ErrNotFound},
		{"missing_order", office, 99, orders.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestService(t)
			seedOrders(t, svc)
			o, err := svc.Get(context.Background(), tc.caller, tc.id)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || errors.Is(err, orders.ErrForbidden) {
					t.Fatalf("Get = %+v, %v; want %v", o, err, tc.wantErr)
				}
				if o != nil {
					t.Fatalf("Get returned the order alongside %v", err)
				}
				return
			}
			if err != nil || o.ID != tc.id {
				t.Fatalf("Get = %+v, %v", o, err)
			}
		})
	}
}

func TestListScopesTheFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		caller     orders.Caller
		filter     orders.ListFilter
		wantBranch string // the branch the store was asked for
		wantIDs    []int64
	}{
		{"branch_staff_pinned_to_own_branch", hqStaff, orders.ListFilter{}, "HQ", []int64{1}},
		{"branch_staff_asking_for_own_branch", s01Staff, orders.ListFilter{BranchCode: "S01"}, "S01", []int64{2}},
		{"aid_office_sees_every_branch", office, orders.ListFilter{}, "", []int64{2, 1}},
		{"aid_office_filters_by_branch", office, orders.ListFilter{BranchCode: "S01"}, "S01", []int64{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestService(t)
			seedOrders(t, svc)
			got, _, err := svc.List(context.Background(), tc.caller, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range got {
				if tc.wantBranch != "" && o.BranchCode != tc.wantBranch {
					t.Fatalf("order %d of branch %s listed, want only %s", o.ID, o.BranchCode, tc.wantBranch)
				}
			}
			var ids []int64
			for _, o := range got {
				ids = append(ids, o.ID)
			}
			if !slices.Equal(ids, tc.wantIDs) {
				t.Fatalf("ids = %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}

func TestListBranchStaffAskingForAnotherBranchGetsNothing(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	seedOrders(t, svc)
	got, next, err := svc.List(context.Background(), hqStaff, orders.ListFilter{BranchCode: "S01"})
	if err != nil || len(got) != 0 || next != "" {
		t.Fatalf("List = %v, %q, %v; want an empty page", got, next, err)
	}
}

func TestListRefuses(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]orders.Caller{
		"auditor":                   auditor,
		"unknown_role":              {Role: "admin"},
		"branch_key_without_branch": {Role: orders.RoleBranchStaff},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestService(t)
			seedOrders(t, svc)
			got, _, err := svc.List(context.Background(), c, orders.ListFilter{})
			if !errors.Is(err, orders.ErrForbidden) {
				t.Fatalf("List = %d orders, %v; want ErrForbidden", len(got), err)
			}
		})
	}
}

func TestListKeepsOtherFiltersAndClampsLimit(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	ctx := context.Background()
	for i := range 3 {
		r := bulkRequest()
		r.OrderRef = fmt.Sprintf("2019-HQ-%04d", i)
		if i == 2 {
			r.Mall = mallABC
		}
		if _, err := svc.Place(ctx, hqStaff, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		filter   orders.ListFilter
		want     int
		wantMore bool
	}{
		{"zero_is_the_default_page", orders.ListFilter{}, 3, false},
		{"negative_is_the_default_page", orders.ListFilter{Limit: -5}, 3, false},
		{"one_is_kept", orders.ListFilter{Limit: 1}, 1, true},
		{"huge_is_clamped_not_refused", orders.ListFilter{Limit: 1_000_000}, 3, false},
		{"mall_filter_kept", orders.ListFilter{Mall: mallABC}, 1, false},
		{"status_filter_kept", orders.ListFilter{Status: orders.StatusShipped}, 0, false},
		{"funding_filter_kept", orders.ListFilter{Funding: orders.FundingExternal}, 0, false},
		{"placed_at_range_kept", orders.ListFilter{From: testNow.Add(time.Hour)}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := svc.List(ctx, hqStaff, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || (next != "") != tc.wantMore {
				t.Fatalf("%d orders, next %q; want %d, more %v", len(got), next, tc.want, tc.wantMore)
			}
		})
	}
}

// orderIn places an HQ order of 10 boxes and takes it, through the service's own use
// cases and the mall's events, to status s; it returns the order's id.
func orderIn(t *testing.T, svc *orders.Service, st *testStore, s orders.Status) int64 {
	t.Helper()
	ctx := context.Background()
	req := bulkRequest()
	req.Lines[0].Quantity = 10
	o, err := svc.Place(ctx, hqStaff, req)
	if err != nil {
		t.Fatal(err)
	}
	at := testNow.Add(time.Hour)
	n := 0
	event := func(typ orders.EventType, qty int64, refund money.Fen) {
		t.Helper()
		n++
		line := 1
		if typ == orders.EventAccepted || typ == orders.EventCancelled {
			line, qty = 0, 0
		}
		if _, err := svc.Apply(ctx, orders.FulfilmentEvent{Mall: o.Mall, EventID: orders.MallEventID(fmt.Sprintf("E%d", n)), Type: typ,
			OutOrderNo: o.OutOrderNo, MallOrderNo: "CCB1", LineNo: line, Quantity: qty, RefundFen: refund,
			OccurredAt: at.Add(time.Duration(n) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	switch s {
	case orders.StatusPending:
	case orders.StatusSubmitted:
		must(svc.MarkSubmitted(ctx, o.ID, "CCB1"))
	case orders.StatusAccepted:
		event(orders.EventAccepted, 0, 0)
	case orders.StatusPartiallyShipped:
		event(orders.EventShipped, 4, 0)
	case orders.StatusShipped:
		event(orders.EventShipped, 10, 0)
	case orders.StatusPartiallyDelivered:
		event(orders.EventDelivered, 4, 0)
	case orders.StatusDelivered:
		event(orders.EventDelivered, 10, 0)
	case orders.StatusRefunded:
		event(orders.EventDelivered, 10, 0)
		event(orders.EventRefunded, 10, 68000)
	case orders.StatusRejected:
		must(svc.MarkRejected(ctx, o.ID, &orders.MallError{Code: "40005", Message: "price mismatch"}))
	case orders.StatusCancelled:
		event(orders.EventCancelled, 0, 0)
	}
	got, err := st.Order(ctx, o.ID)
	if err != nil || got.Status != s {
		t.Fatalf("fixture for %s: %+v, %v", s, got, err)
	}
	return o.ID
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    orders.Status
		wantAsked bool  // a cancel job was enqueued
		wantErr   error // nil: the order comes back
	}{
		{orders.StatusPending, true, nil},
		{orders.StatusSubmitted, true, nil},
		{orders.StatusAccepted, true, nil},
		{orders.StatusCancelled, false, nil},
		{orders.StatusPartiallyShipped, false, orders.ErrNotAllowed},
		{orders.StatusShipped, false, orders.ErrNotAllowed},
		{orders.StatusPartiallyDelivered, false, orders.ErrNotAllowed},
		{orders.StatusDelivered, false, orders.ErrNotAllowed},
		{orders.StatusRefunded, false, orders.ErrNotAllowed},
		{orders.StatusRejected, false, orders.ErrNotAllowed},
	}
	for _, tc := range tests {
		name := string(tc.status) + "_is_cancellable"
		switch {
		case tc.wantErr != nil:
			name = string(tc.status) + "_is_not_cancellable"
		case tc.status == orders.StatusCancelled:
			name = "cancelled_again_is_idempotent"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			id := orderIn(t, svc, st, tc.status)
			o, err := svc.Cancel(context.Background(), hqStaff, id, "budget withdrawn")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Cancel = %v, want %v", err, tc.wantErr)
				}
				if msg := orders.ErrorMessage(err); !strings.Contains(msg, string(tc.status)) {
					t.Fatalf("client message %q does not name the status", msg)
				}
			} else if err != nil || o == nil || o.ID != id {
				t.Fatalf("Cancel = %+v, %v", o, err)
			}
			reasons := st.jobs.Cancels(id)
			if asked := len(reasons) > 0; asked != tc.wantAsked {
				t.Fatalf("cancel job enqueued: %v, want %v", asked, tc.wantAsked)
			}
			stored, _ := st.Order(context.Background(), id)
			if tc.wantAsked {
				if !o.CancelReq || !stored.CancelReq || reasons[0] != "budget withdrawn" {
					t.Fatalf("the order does not show the cancel request: %+v, reasons %q", o, reasons)
				}
				if o.Status != orders.StatusCancelRequested || stored.Status != orders.StatusCancelRequested {
					t.Fatalf("status %s (stored %s), want cancel_requested", o.Status, stored.Status)
				}
				// Asked again while the first is open: the same order, no second job.
				again, err := svc.Cancel(context.Background(), hqStaff, id, "asked twice")
				if err != nil || again.Status != orders.StatusCancelRequested {
					t.Fatalf("second Cancel = %+v, %v", again, err)
				}
				if n := len(st.jobs.Cancels(id)); n != 1 {
					t.Fatalf("%d cancel jobs after two cancels, want 1", n)
				}
			} else if stored.CancelReq {
				t.Fatal("a refused cancel was recorded on the order")
			}
			if tc.status == orders.StatusCancelled && o.Status != orders.StatusCancelled {
				t.Fatalf("status = %s", o.Status)
			}
		})
	}
}

// How a cancel request stands is shown on the order: the last error and attempt while the
// mall cannot be reached, cleared when an attempt reaches it; the last attempt closes the
// request (back to the status the quantities give); a request already closed is left.
func TestRecordCancelAttempt(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		testRecordCancelAttempt(t, db)
	})
}

func testRecordCancelAttempt(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	at := time.Date(2019, 3, 12, 2, 0, 0, 0, time.UTC)
	svc, st := newTestServiceOn(t, func(testing.TB) *sqlstore.DB { return db })
	id := orderIn(t, svc, st, orders.StatusAccepted)
	if _, err := svc.Cancel(ctx, hqStaff, id, "budget withdrawn"); err != nil {
		t.Fatal(err)
	}
	read := func() *orders.GroupOrder {
		t.Helper()
		o, err := st.Order(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if err := svc.RecordCancelAttempt(ctx, id, orders.CancelAttempt{Attempt: 2, At: at, Err: "ccb mall: no answer"}); err != nil {
		t.Fatal(err)
	}
	if o := read(); o.Status != orders.StatusCancelRequested || o.CancelError != "ccb mall: no answer" || o.CancelAttempt != 2 ||
		o.CancelErrorAt == nil || !o.CancelErrorAt.Equal(at) {
		t.Fatalf("after a failed attempt: %s, %q, attempt %d at %v", o.Status, o.CancelError, o.CancelAttempt, o.CancelErrorAt)
	}
	if err := svc.RecordCancelAttempt(ctx, id, orders.CancelAttempt{Attempt: 3, At: at}); err != nil {
		t.Fatal(err)
	}
	if o := read(); o.Status != orders.StatusCancelRequested || o.CancelError != "" || o.CancelAttempt != 0 || o.CancelErrorAt != nil {
		t.Fatalf("after the mall was reached: %s, %q, attempt %d at %v", o.Status, o.CancelError, o.CancelAttempt, o.CancelErrorAt)
	}
	if err := svc.RecordCancelAttempt(ctx, id, orders.CancelAttempt{Attempt: 25, At: at, Err: "ccb mall: http 503", GaveUp: true}); err != nil {
		t.Fatal(err)
	}
	o := read()
	if o.Status != orders.StatusAccepted || o.CancelReq || o.CancelError != "gave up after 25 attempts: ccb mall: http 503" {
		t.Fatalf("after giving up: %s (requested %v), %q", o.Status, o.CancelReq, o.CancelError)
	}
	// The request is closed: a late attempt's report changes nothing.
	if err := svc.RecordCancelAttempt(ctx, id, orders.CancelAttempt{Attempt: 1, At: at, Err: "late"}); err != nil {
		t.Fatal(err)
	}
	if o := read(); o.CancelError != "gave up after 25 attempts: ccb mall: http 503" {
		t.Fatalf("a closed request took a late report: %q", o.CancelError)
	}
}

func TestCancelRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		caller  orders.Caller
		missing bool
		wantErr error
	}{
		{"auditor", auditor, false, orders.ErrForbidden},
		{"other_branch_order_looks_absent", s01Staff, false, orders.ErrNotFound},
		{"missing_order", hqStaff, true, orders.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			id := orderIn(t, svc, st, orders.StatusPending)
			if tc.missing {
				id += 99
			}
			if _, err := svc.Cancel(context.Background(), tc.caller, id, "x"); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Cancel = %v, want %v", err, tc.wantErr)
			}
			if r := st.jobs.Cancels(id); len(r) != 0 {
				t.Fatalf("a cancel job was enqueued: %v", r)
			}
		})
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	svc, st := newTestService(t)
	ctx := context.Background()

	bad := delivered()
	bad.Quantity = 0
	if _, err := svc.Apply(ctx, bad); !errors.Is(err, orders.ErrInvalid) {
		t.Fatalf("Apply(invalid) = %v, want ErrInvalid", err)
	}
	if _, n := st.counts(); n != 0 {
		t.Fatal("an invalid event reached the store")
	}

	res, err := svc.Apply(ctx, delivered())
	if err != nil || !res.Parked {
		t.Fatalf("Apply = %+v, %v; want parked (no such order)", res, err)
	}
	res, err = svc.Apply(ctx, delivered())
	if err != nil || !res.Duplicate {
		t.Fatalf("Apply again = %+v, %v; want duplicate", res, err)
	}
}

// fieldDetail returns the detail of err's field at pointer, or "".
func fieldDetail(err error, pointer string) string {
	var ve *orders.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			if f.Pointer == pointer {
				return f.Detail
			}
		}
	}
	return ""
}

// An order is checked against the limits the chosen mall's driver states — for auto,
// against every connected mall's — and nothing else: a mall that takes shorter buyer
// references or needs no consignee is honoured as it says.
func TestPlaceChecksTheMallsLimits(t *testing.T) {
	t.Parallel()
	connected := []orders.MallInfo{{Code: mallCCB, Limits: specLimits}, {Code: mallABC, Limits: orders.MallLimits{OrderRefMax: 12}}}
	ref20 := strings.Repeat("R", 20)
	tests := []struct {
		name   string
		edit   func(*orders.PlaceRequest)
		ptr    string // "" = placed
		detail string
	}{
		{"a_reference_within_ccbs_limit", func(r *orders.PlaceRequest) { r.OrderRef = ref20 }, "", ""},
		{"a_reference_over_abcs_limit", func(r *orders.PlaceRequest) { r.OrderRef, r.Mall = ref20, mallABC },
			"/order_ref", "at most 12 characters (the malls' buyer_ref limit)"},
		{"auto_meets_every_candidates_limit", func(r *orders.PlaceRequest) { r.OrderRef, r.Mall = ref20, orders.MallAuto },
			"/order_ref", "at most 12 characters (the malls' buyer_ref limit)"},
		{"ccb_needs_a_consignee", func(r *orders.PlaceRequest) { r.ShipTo = orders.ShipTo{} }, "/ship_to/name", "required"},
		{"auto_needs_a_consignee_when_any_mall_does", func(r *orders.PlaceRequest) { r.ShipTo, r.Mall = orders.ShipTo{}, orders.MallAuto },
			"/ship_to/name", "required"},
		{"a_mall_that_needs_no_consignee_takes_none", func(r *orders.PlaceRequest) { r.ShipTo, r.Mall = orders.ShipTo{}, mallABC }, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := newTestServiceLimited(t, sqltest.SQLite, connected)
			req := bulkRequest()
			tc.edit(&req)
			_, err := svc.Place(context.Background(), hqStaff, req)
			switch {
			case tc.ptr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.ptr != "" && fieldDetail(err, tc.ptr) != tc.detail:
				t.Fatalf("err %v; want %s %q", err, tc.ptr, tc.detail)
			}
		})
	}
	t.Run("the_specs_limits_read_as_before", func(t *testing.T) {
		t.Parallel()
		svc, _ := newTestService(t)
		req := bulkRequest()
		req.OrderRef = strings.Repeat("A", 65)
		_, err := svc.Place(context.Background(), hqStaff, req)
		if d := fieldDetail(err, "/order_ref"); d != "at most 64 characters (the malls' buyer_ref limit)" {
			t.Errorf("/order_ref %q", d)
		}
	})
	t.Run("a_mall_that_cannot_take_the_services_numbers_is_refused", func(t *testing.T) {
		t.Parallel()
		st := sqltest.Store(t, sqltest.SQLite(t))
		if _, err := orders.NewService(st, []orders.MallInfo{{Code: mallCCB, Limits: orders.MallLimits{OutOrderNoMax: 20}}}, nil); err == nil {
			t.Error("NewService took a mall whose out_order_no is shorter than NewOutOrderNo's")
		}
	})
}

// History names its own out_order_no; it is checked against its mall's rule.
func TestLoadHistoryChecksItsMallsOutOrderNo(t *testing.T) {
	t.Parallel()
	abcLimits := orders.MallLimits{OrderRefMax: 64, OutOrderNoMax: 64, OutOrderNoExtra: "-_", ConsigneeRequired: true}
	svc, _ := newTestServiceLimited(t, sqltest.SQLite, []orders.MallInfo{{Code: mallCCB, Limits: specLimits}, {Code: mallABC, Limits: abcLimits}})
	h := historyOrder()
	h.OutOrderNo = "AM-2018-0001"
	_, _, err := svc.LoadHistory(context.Background(), office, h)
	if d := fieldDetail(err, "/out_order_no"); d != "1–32 letters and digits" {
		t.Errorf("ccb history with %s: %v", h.OutOrderNo, err)
	}
	h.Mall, h.MallOrderNo = mallABC, "ABC20181220000163"
	h.Lines[0].UnitPrice = 6900
	if _, _, err := svc.LoadHistory(context.Background(), office, h); fieldDetail(err, "/out_order_no") != "" {
		t.Errorf("abc history with %s: %v", h.OutOrderNo, err)
	}
}
