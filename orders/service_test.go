package orders

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"aidmall/money"
)

// testNow is the service clock in these tests: 20 November 2019, 10:00 Beijing.
var testNow = time.Date(2019, 11, 20, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

var (
	hqStaff  = Caller{KeyID: 1, Name: "HQ staff", Role: RoleBranchStaff, BranchCode: "HQ"}
	s01Staff = Caller{KeyID: 2, Name: "S01 staff", Role: RoleBranchStaff, BranchCode: "S01"}
	office   = Caller{KeyID: 3, Name: "扶贫办", Role: RoleAidOffice}
	auditor  = Caller{KeyID: 4, Name: "审计", Role: RoleAuditor}
)

func newTestService(t *testing.T) (*Service, *fakeStore) {
	t.Helper()
	clock := func() time.Time { return testNow }
	st := newFakeStore(clock)
	svc, err := NewService(st, []Mall{MallCCB, MallABC}, clock)
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// bulkRequest is a valid HQ order of 20 boxes of YC-APL-5KG-DZ at CCB, one consignment.
func bulkRequest() PlaceRequest {
	return PlaceRequest{
		OrderRef: "2019-HQ-0042", BranchCode: "HQ", Mall: MallCCB, Funding: FundingUnion,
		DeliveryMode: DeliveryBulk,
		ShipTo:       ShipTo{Name: "王芳", Phone: "13800000000", Address: "北京市海淀区复兴路 1 号"},
		Lines:        []PlaceLine{{SKU: "YC-APL-5KG-DZ", Quantity: 20}},
	}
}

func fen(f money.Fen) *money.Fen { return &f }

func recipient(name string, qty int64) Recipient {
	return Recipient{Name: name, Phone: "13900000000", Address: "陕西省延安市宜川县", Quantity: qty}
}

func pointers(err error) []string {
	var ve *ValidationError
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
	if _, err := NewService(nil, nil, nil); err == nil {
		t.Fatal("NewService(nil store) succeeded")
	}
}

func TestPlaceRefusesBadContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		caller Caller
		edit   func(*PlaceRequest)
		want   []string
	}{
		{"order_ref_missing", hqStaff, func(r *PlaceRequest) { r.OrderRef = "" }, []string{"/order_ref"}},
		{"order_ref_blank", hqStaff, func(r *PlaceRequest) { r.OrderRef = " \t " }, []string{"/order_ref"}},
		{"order_ref_over_64_characters", hqStaff, func(r *PlaceRequest) { r.OrderRef = strings.Repeat("A", 65) }, []string{"/order_ref"}},
		{"branch_code_missing", office, func(r *PlaceRequest) { r.BranchCode = "" }, []string{"/branch_code"}},
		{"unknown_branch", office, func(r *PlaceRequest) { r.BranchCode = "S99" }, []string{"/branch_code"}},
		{"unknown_sku", hqStaff, func(r *PlaceRequest) { r.Lines[0].SKU = "YC-APL-9KG-XX" }, []string{"/lines/0/sku"}},
		{"unknown_sku_on_second_line", hqStaff, func(r *PlaceRequest) {
			r.Lines = append(r.Lines, PlaceLine{SKU: "NOPE", Quantity: 1})
		}, []string{"/lines/1/sku"}},
		{"sku_missing", hqStaff, func(r *PlaceRequest) { r.Lines[0].SKU = "" }, []string{"/lines/0/sku"}},
		{"unknown_mall", hqStaff, func(r *PlaceRequest) { r.Mall = "icbc" }, []string{"/mall"}},
		{"mall_missing", hqStaff, func(r *PlaceRequest) { r.Mall = "" }, []string{"/mall"}},
		{"unknown_funding", hqStaff, func(r *PlaceRequest) { r.Funding = "gift" }, []string{"/funding"}},
		{"funding_missing", hqStaff, func(r *PlaceRequest) { r.Funding = "" }, []string{"/funding"}},
		{"unknown_delivery_mode", hqStaff, func(r *PlaceRequest) { r.DeliveryMode = "express" }, []string{"/delivery_mode"}},
		{"no_lines", hqStaff, func(r *PlaceRequest) { r.Lines = nil }, []string{"/lines"}},
		{"duplicate_sku_lines", hqStaff, func(r *PlaceRequest) {
			r.Lines = append(r.Lines, PlaceLine{SKU: "YC-WKN-500G-HH", Quantity: 2}, PlaceLine{SKU: "YC-APL-5KG-DZ", Quantity: 5})
		}, []string{"/lines/2/sku"}},
		{"quantity_zero", hqStaff, func(r *PlaceRequest) { r.Lines[0].Quantity = 0 }, []string{"/lines/0/quantity"}},
		{"quantity_negative", hqStaff, func(r *PlaceRequest) { r.Lines[0].Quantity = -20 }, []string{"/lines/0/quantity"}},
		{"quantity_above_max", hqStaff, func(r *PlaceRequest) { r.Lines[0].Quantity = MaxQuantity + 1 }, []string{"/lines/0/quantity"}},
		{"unit_price_zero", hqStaff, func(r *PlaceRequest) { r.Lines[0].UnitPrice = fen(0) }, []string{"/lines/0/unit_price"}},
		{"unit_price_negative", hqStaff, func(r *PlaceRequest) { r.Lines[0].UnitPrice = fen(-6800) }, []string{"/lines/0/unit_price"}},
		{"bulk_ship_to_name_missing", hqStaff, func(r *PlaceRequest) { r.ShipTo.Name = "" }, []string{"/ship_to/name"}},
		{"bulk_ship_to_phone_blank", hqStaff, func(r *PlaceRequest) { r.ShipTo.Phone = "  " }, []string{"/ship_to/phone"}},
		{"bulk_ship_to_address_missing", hqStaff, func(r *PlaceRequest) { r.ShipTo.Address = "" }, []string{"/ship_to/address"}},
		{"bulk_without_ship_to", hqStaff, func(r *PlaceRequest) { r.ShipTo = ShipTo{} },
			[]string{"/ship_to/name", "/ship_to/phone", "/ship_to/address"}},
		{"recipients_on_bulk_refused", hqStaff, func(r *PlaceRequest) {
			r.Lines[0].Recipients = []Recipient{recipient("李明", 20)}
		}, []string{"/lines/0/recipients"}},
		{"per_recipient_quantities_not_adding_up", hqStaff, func(r *PlaceRequest) {
			r.DeliveryMode, r.ShipTo = DeliveryPerRecipient, ShipTo{}
			r.Lines[0].Recipients = []Recipient{recipient("李明", 8), recipient("赵强", 10)}
		}, []string{"/lines/0/recipients"}},
		{"per_recipient_recipient_without_quantity", hqStaff, func(r *PlaceRequest) {
			r.DeliveryMode, r.ShipTo = DeliveryPerRecipient, ShipTo{}
			r.Lines[0].Recipients = []Recipient{recipient("李明", 20), recipient("赵强", 0)}
		}, []string{"/lines/0/recipients/1/quantity"}},
		{"per_recipient_recipient_without_address", hqStaff, func(r *PlaceRequest) {
			r.DeliveryMode, r.ShipTo = DeliveryPerRecipient, ShipTo{}
			r.Lines[0].Recipients = []Recipient{recipient("李明", 20)}
			r.Lines[0].Recipients[0].Address = " "
		}, []string{"/lines/0/recipients/0"}},
		{"per_recipient_line_without_recipients_needs_ship_to", hqStaff, func(r *PlaceRequest) {
			r.DeliveryMode, r.ShipTo = DeliveryPerRecipient, ShipTo{}
		}, []string{"/ship_to/name", "/ship_to/phone", "/ship_to/address"}},
		{"unit_price_of_other_mall_refused", hqStaff, func(r *PlaceRequest) {
			r.Lines[0].UnitPrice = fen(6900) // ABC's price; CCB lists 68.00
		}, []string{"/lines/0/unit_price"}},
		{"unit_price_differing_on_second_line", hqStaff, func(r *PlaceRequest) {
			r.Lines[0].UnitPrice = fen(6800)
			r.Lines = append(r.Lines, PlaceLine{SKU: "YC-WKN-500G-HH", Quantity: 3, UnitPrice: fen(3900)})
		}, []string{"/lines/1/unit_price"}},
		{"named_mall_does_not_list_sku", hqStaff, func(r *PlaceRequest) {
			r.Mall, r.Lines[0].SKU = MallABC, "YC-APL-5KG-HK"
		}, []string{"/lines/0/sku"}},
		{"named_mall_does_not_list_one_line", hqStaff, func(r *PlaceRequest) {
			r.Lines = append(r.Lines, PlaceLine{SKU: "YC-PEP-250G-ZS", Quantity: 10}, PlaceLine{SKU: "YC-WKN-500G-HH", Quantity: 10})
		}, []string{"/lines/1/sku"}},
		{"auto_with_no_mall_listing_every_line", hqStaff, func(r *PlaceRequest) {
			r.Mall = MallAuto
			r.Lines = []PlaceLine{{SKU: "YC-APL-5KG-HK", Quantity: 5}, {SKU: "YC-PEP-250G-ZS", Quantity: 5}}
		}, []string{"/mall"}},
		{"placed_at_in_future", office, func(r *PlaceRequest) {
			at := testNow.Add(time.Hour)
			r.PlacedAt = &at
		}, []string{"/placed_at"}},
		{"every_bad_field_is_listed", hqStaff, func(r *PlaceRequest) {
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
			if !errors.Is(err, ErrInvalid) {
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
		caller Caller
		edit   func(*PlaceRequest)
	}{
		{"auditor", auditor, func(*PlaceRequest) {}},
		{"unknown_role", Caller{Role: "admin", BranchCode: "HQ"}, func(*PlaceRequest) {}},
		{"branch_staff_for_another_branch", s01Staff, func(*PlaceRequest) {}},
		{"branch_key_without_branch", Caller{Role: RoleBranchStaff}, func(*PlaceRequest) {}},
		{"branch_staff_backdating", hqStaff, func(r *PlaceRequest) { r.PlacedAt = &past }},
		{"branch_staff_setting_placed_at_to_now", hqStaff, func(r *PlaceRequest) { at := testNow; r.PlacedAt = &at }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			req := bulkRequest()
			tc.edit(&req)
			if _, err := svc.Place(context.Background(), tc.caller, req); !errors.Is(err, ErrForbidden) {
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
		edit      func(*PlaceRequest)
		wantMall  Mall
		wantLines []wantLine
		wantTotal money.Fen
	}{
		{"ccb_order_priced_from_ccb_listing", func(*PlaceRequest) {}, MallCCB,
			[]wantLine{{"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}}, 136000},
		{"abc_order_priced_from_abc_listing", func(r *PlaceRequest) { r.Mall = MallABC }, MallABC,
			[]wantLine{{"YC-APL-5KG-DZ", "ABC-770031", 6900}}, 138000},
		{"auto_prefers_ccb_when_both_list", func(r *PlaceRequest) { r.Mall = MallAuto }, MallCCB,
			[]wantLine{{"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}}, 136000},
		{"auto_takes_abc_when_ccb_misses_a_line", func(r *PlaceRequest) {
			r.Mall = MallAuto
			r.Lines = append(r.Lines, PlaceLine{SKU: "YC-PEP-250G-ZS", Quantity: 10})
		}, MallABC, []wantLine{{"YC-APL-5KG-DZ", "ABC-770031", 6900}, {"YC-PEP-250G-ZS", "ABC-771266", 3990}}, 138000 + 39900},
		{"auto_takes_ccb_for_ccb_only_sku", func(r *PlaceRequest) {
			r.Mall, r.Lines[0].SKU = MallAuto, "YC-APL-5KG-HK"
		}, MallCCB, []wantLine{{"YC-APL-5KG-HK", "CCB-YC-APL-05H", 7200}}, 144000},
		{"matching_unit_price_is_accepted", func(r *PlaceRequest) {
			r.Mall, r.Lines[0].UnitPrice = MallABC, fen(6900)
		}, MallABC, []wantLine{{"YC-APL-5KG-DZ", "ABC-770031", 6900}}, 138000},
		{"lines_numbered_in_request_order", func(r *PlaceRequest) {
			r.Lines = []PlaceLine{{SKU: "YC-WKN-500G-HH", Quantity: 3}, {SKU: "YC-APL-5KG-DZ", Quantity: 1}}
		}, MallCCB, []wantLine{{"YC-WKN-500G-HH", "CCB-YC-WKN-500", 3980}, {"YC-APL-5KG-DZ", "CCB-YC-APL-05", 6800}}, 11940 + 6800},
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
			if stored.Mall != o.Mall || stored.Total() != o.Total() || stored.Status != StatusPending {
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
		caller Caller
		edit   func(*PlaceRequest)
		check  func(t *testing.T, o *GroupOrder)
	}{
		{"placed_now_by_branch_staff", hqStaff, func(*PlaceRequest) {}, func(t *testing.T, o *GroupOrder) {
			if !o.PlacedAt.Equal(testNow) || o.BranchCode != "HQ" || o.Funding != FundingUnion || o.DeliveryMode != DeliveryBulk {
				t.Errorf("order = %+v", o)
			}
			if !ValidOutOrderNo(o.OutOrderNo) || len(o.OutOrderNo) != 28 || !strings.HasPrefix(o.OutOrderNo, "AM") {
				t.Errorf("out_order_no = %q, want AM and a ULID", o.OutOrderNo)
			}
			if o.BuyerName == "" {
				t.Errorf("buyer_name not fixed at placing")
			}
		}},
		{"aid_office_backdates", office, func(r *PlaceRequest) { r.PlacedAt = &back }, func(t *testing.T, o *GroupOrder) {
			if !o.PlacedAt.Equal(back) || !strings.HasPrefix(o.OutOrderNo, "AM") {
				t.Errorf("placed_at %s, out_order_no %s", o.PlacedAt, o.OutOrderNo)
			}
		}},
		{"aid_office_places_for_any_branch", office, func(r *PlaceRequest) { r.BranchCode = "S01" }, func(t *testing.T, o *GroupOrder) {
			if o.BranchCode != "S01" {
				t.Errorf("branch = %s", o.BranchCode)
			}
		}},
		{"placed_at_a_minute_ahead_is_clock_skew", office, func(r *PlaceRequest) { r.PlacedAt = &skew }, func(t *testing.T, o *GroupOrder) {
			if !o.PlacedAt.Equal(skew) {
				t.Errorf("placed_at = %s", o.PlacedAt)
			}
		}},
		{"order_ref_trimmed", hqStaff, func(r *PlaceRequest) { r.OrderRef = "  2019-HQ-0042 " }, func(t *testing.T, o *GroupOrder) {
			if o.OrderRef != "2019-HQ-0042" {
				t.Errorf("order_ref = %q", o.OrderRef)
			}
		}},
		{"order_ref_of_64_characters", hqStaff, func(r *PlaceRequest) { r.OrderRef = strings.Repeat("A", 64) }, func(*testing.T, *GroupOrder) {}},
		{"order_ref_of_64_chinese_characters", hqStaff, func(r *PlaceRequest) {
			r.OrderRef = strings.Repeat("工会", 32) // 64 characters, 192 bytes
		}, func(*testing.T, *GroupOrder) {}},
		{"quantity_of_max", hqStaff, func(r *PlaceRequest) { r.Lines[0].Quantity = MaxQuantity }, func(t *testing.T, o *GroupOrder) {
			if o.Total() != MaxQuantity*6800 {
				t.Errorf("total = %s", o.Total())
			}
		}},
		{"per_recipient_with_every_line_addressed_needs_no_ship_to", hqStaff, func(r *PlaceRequest) {
			r.DeliveryMode, r.ShipTo = DeliveryPerRecipient, ShipTo{}
			r.Lines[0].Recipients = []Recipient{recipient("李明", 8), recipient("赵强", 12)}
		}, func(t *testing.T, o *GroupOrder) {
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
			if o.ID == 0 || !ValidOutOrderNo(o.OutOrderNo) {
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
	if _, err := svc.Place(ctx, hqStaff, bulkRequest()); !errors.Is(err, ErrConflict) {
		t.Fatalf("second Place = %v, want ErrConflict", err)
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

// seedOrders stores order 1 of HQ and order 2 of S01.
func seedOrders(st *fakeStore) {
	st.put(GroupOrder{ID: 1, OrderRef: "2019-HQ-0001", BranchCode: "HQ", Mall: MallCCB, Status: StatusPending})
	st.put(GroupOrder{ID: 2, OrderRef: "2019-S01-0001", BranchCode: "S01", Mall: MallABC, Status: StatusPending})
}

func TestGet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		caller  Caller
		id      int64
		wantErr error
	}{
		{"branch_staff_reads_own_order", hqStaff, 1, nil},
		{"aid_office_reads_any_order", office, 2, nil},
		{"other_branch_order_looks_absent", hqStaff, 2, ErrNotFound},
		{"auditor_reads_no_order", auditor, 1, ErrNotFound},
		{"missing_order", office, 99, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			seedOrders(st)
			o, err := svc.Get(context.Background(), tc.caller, tc.id)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || errors.Is(err, ErrForbidden) {
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
		caller     Caller
		filter     ListFilter
		wantBranch string // the branch the store was asked for
		wantIDs    []int64
	}{
		{"branch_staff_pinned_to_own_branch", hqStaff, ListFilter{}, "HQ", []int64{1}},
		{"branch_staff_asking_for_own_branch", s01Staff, ListFilter{BranchCode: "S01"}, "S01", []int64{2}},
		{"aid_office_sees_every_branch", office, ListFilter{}, "", []int64{2, 1}},
		{"aid_office_filters_by_branch", office, ListFilter{BranchCode: "S01"}, "S01", []int64{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			seedOrders(st)
			got, _, err := svc.List(context.Background(), tc.caller, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if st.lastFilter == nil || st.lastFilter.BranchCode != tc.wantBranch {
				t.Fatalf("store filter = %+v, want branch %q", st.lastFilter, tc.wantBranch)
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
	svc, st := newTestService(t)
	seedOrders(st)
	got, next, err := svc.List(context.Background(), hqStaff, ListFilter{BranchCode: "S01"})
	if err != nil || len(got) != 0 || next != "" {
		t.Fatalf("List = %v, %q, %v; want an empty page", got, next, err)
	}
	if st.lastFilter != nil {
		t.Fatalf("the store was asked for S01's orders: %+v", st.lastFilter)
	}
}

func TestListRefuses(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Caller{
		"auditor":                   auditor,
		"unknown_role":              {Role: "admin"},
		"branch_key_without_branch": {Role: RoleBranchStaff},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			seedOrders(st)
			got, _, err := svc.List(context.Background(), c, ListFilter{})
			if !errors.Is(err, ErrForbidden) {
				t.Fatalf("List = %d orders, %v; want ErrForbidden", len(got), err)
			}
			if st.lastFilter != nil {
				t.Fatalf("the store was asked: %+v", st.lastFilter)
			}
		})
	}
}

func TestListKeepsOtherFiltersAndClampsLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"zero_is_default_50", 0, 50},
		{"negative_is_default_50", -5, 50},
		{"one_is_kept", 1, 1},
		{"two_hundred_is_kept", 200, 200},
		{"above_200_is_clamped", 201, 200},
		{"huge_is_clamped", 1_000_000, 200},
	}
	from := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			in := ListFilter{Mall: MallABC, Status: StatusShipped, Funding: FundingExternal, From: from,
				To: from.AddDate(1, 0, 0), Limit: tc.limit, Cursor: "c1"}
			if _, _, err := svc.List(context.Background(), hqStaff, in); err != nil {
				t.Fatal(err)
			}
			want := in
			want.BranchCode, want.Limit = "HQ", tc.want
			if *st.lastFilter != want {
				t.Fatalf("store filter = %+v, want %+v", *st.lastFilter, want)
			}
		})
	}
}

// orderIn returns HQ order id whose lines and flags derive status s.
func orderIn(t *testing.T, id int64, s Status) GroupOrder {
	t.Helper()
	o := GroupOrder{ID: id, OrderRef: "2019-HQ-0007", BranchCode: "HQ", Mall: MallCCB,
		Lines: []Line{{LineNo: 1, SKU: "YC-APL-5KG-DZ", Quantity: 10, UnitPrice: 6800}}}
	l := &o.Lines[0]
	switch s {
	case StatusPending:
	case StatusSubmitted:
		o.Submitted = true
	case StatusAccepted:
		o.Submitted, o.Accepted = true, true
	case StatusPartiallyShipped:
		o.Submitted, o.Accepted, l.ShippedQty = true, true, 4
	case StatusShipped:
		o.Submitted, o.Accepted, l.ShippedQty = true, true, 10
	case StatusPartiallyDelivered:
		o.Submitted, o.Accepted, l.ShippedQty, l.DeliveredQty = true, true, 10, 4
	case StatusDelivered:
		o.Submitted, o.Accepted, l.ShippedQty, l.DeliveredQty = true, true, 10, 10
	case StatusRefunded:
		o.Submitted, o.Accepted, l.ShippedQty, l.DeliveredQty, l.RefundedFen = true, true, 10, 10, 68000
	case StatusRejected:
		o.RejectCode = "40005"
	case StatusCancelled:
		o.Submitted, o.Cancelled = true, true
	}
	o.Status = DeriveStatus(&o)
	if o.Status != s {
		t.Fatalf("fixture for %s derives %s", s, o.Status)
	}
	return o
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    Status
		wantAsked bool  // the store was asked to cancel
		wantErr   error // nil: the order comes back
	}{
		{StatusPending, true, nil},
		{StatusSubmitted, true, nil},
		{StatusAccepted, true, nil},
		{StatusCancelled, false, nil},
		{StatusPartiallyShipped, false, ErrNotAllowed},
		{StatusShipped, false, ErrNotAllowed},
		{StatusPartiallyDelivered, false, ErrNotAllowed},
		{StatusDelivered, false, ErrNotAllowed},
		{StatusRefunded, false, ErrNotAllowed},
		{StatusRejected, false, ErrNotAllowed},
	}
	for _, tc := range tests {
		name := string(tc.status) + "_is_cancellable"
		switch {
		case tc.wantErr != nil:
			name = string(tc.status) + "_is_not_cancellable"
		case tc.status == StatusCancelled:
			name = "cancelled_again_is_idempotent"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			st.put(orderIn(t, 7, tc.status))
			o, err := svc.Cancel(context.Background(), hqStaff, 7, "budget withdrawn")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Cancel = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || o == nil || o.ID != 7 {
				t.Fatalf("Cancel = %+v, %v", o, err)
			}
			asked := len(st.cancels[7]) > 0
			if asked != tc.wantAsked {
				t.Fatalf("store asked to cancel: %v, want %v", asked, tc.wantAsked)
			}
			if tc.wantAsked {
				if !o.CancelReq || st.cancels[7][0] != "budget withdrawn" {
					t.Fatalf("returned order does not show the cancel request: %+v, reasons %q", o, st.cancels[7])
				}
			}
			if tc.status == StatusCancelled && o.Status != StatusCancelled {
				t.Fatalf("status = %s", o.Status)
			}
		})
	}
}

func TestCancelRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		caller  Caller
		id      int64
		wantErr error
	}{
		{"auditor", auditor, 7, ErrForbidden},
		{"other_branch_order_looks_absent", s01Staff, 7, ErrNotFound},
		{"missing_order", hqStaff, 99, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st := newTestService(t)
			st.put(orderIn(t, 7, StatusPending))
			if _, err := svc.Cancel(context.Background(), tc.caller, tc.id, "x"); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Cancel = %v, want %v", err, tc.wantErr)
			}
			if len(st.cancels) != 0 {
				t.Fatalf("the store was asked to cancel: %v", st.cancels)
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
	if _, err := svc.Apply(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Apply(invalid) = %v, want ErrInvalid", err)
	}
	if _, n := st.counts(); n != 0 {
		t.Fatal("an invalid event reached the store")
	}

	res, err := svc.Apply(ctx, delivered())
	if err != nil || !res.Parked {
		t.Fatalf("Apply = %+v, %v; want the store's result (parked)", res, err)
	}
	res, err = svc.Apply(ctx, delivered())
	if err != nil || !res.Duplicate {
		t.Fatalf("Apply again = %+v, %v; want duplicate", res, err)
	}
}
