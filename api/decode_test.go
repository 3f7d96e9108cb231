package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/reports"
)

// FuzzPlaceOrder posts arbitrary bodies to POST /v1/orders through the real service: the
// answer is a 201 or a 4xx problem, never a 500, and a 201 always has an order id.
func FuzzPlaceOrder(f *testing.F) {
	for _, s := range []string{
		orderBody(nil),
		orderBody(map[string]any{"mall": "auto", "lines": []any{map[string]any{"sku": "YC-PEP-250G-ZS", "quantity": 1}}}),
		orderBody(map[string]any{"delivery_mode": "per_recipient"}),
		`{"lines":[{"sku":"YC-APL-5KG-DZ","quantity":1000001,"unit_price":"-1"}]}`,
		`{"placed_at":"9999-12-31T23:59:59+14:00"}`,
		`{"a/b~":1}`, `[]`, `"x"`, `{`, ``, `{"lines":[null,{}]}`,
	} {
		f.Add(s)
	}
	h := newHarness(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body string) {
		key := fmt.Sprintf(`"fuzz-%d"`, n.Add(1))
		for _, caller := range []string{"key-hq", "key-office"} {
			rec := h.do(request{method: http.MethodPost, path: "/v1/orders", key: caller, body: body,
				header: map[string]string{"Idempotency-Key": key}})
			switch {
			case rec.Code == http.StatusCreated:
				if !strings.Contains(rec.Body.String(), `"id":`) {
					t.Fatalf("201 without an id: %s", rec.Body)
				}
			case rec.Code >= 400 && rec.Code < 500:
				problemOf(t, rec)
			default:
				t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
			}
		}
	})
}

// inputCase is one request that must be refused, and how.
type inputCase struct {
	name        string
	key         string
	method      string // POST /v1/orders unless set
	path        string
	body        string
	header      map[string]string
	wantStatus  int
	wantSlug    string
	wantPointer string // an entry of errors[] points here ("-" for the whole document, "")
	wantParam   string // or names this parameter
}

// line is one order line for inputCases.
func line(fields map[string]any) []any {
	l := map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20, "unit_price": "68.00"}
	for k, v := range fields {
		l[k] = v
	}
	return []any{l}
}

func inputCases(t *testing.T) []inputCase {
	t.Helper()
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(orderBody(map[string]any{"order_ref": "K13-gb"}))
	if err != nil {
		t.Fatal(err)
	}
	tooDeep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	manyLines := make([]any, orders.MaxLines+1)
	for i := range manyLines {
		manyLines[i] = map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 1}
	}
	ship := func(k, v string) map[string]any {
		m := map[string]any{"name": "王芳", "phone": "13800001234", "address": "北京市西城区某路1号"}
		m[k] = v
		return m
	}
	rcp := func(k, v string) map[string]any {
		m := map[string]any{"name": "李明", "phone": "13900001111", "address": "陕西省延安市宜川县", "quantity": 20}
		m[k] = v
		return m
	}
	cases := []inputCase{
		// What a body must be: UTF-8 JSON, said so.
		{name: "text_plain_is_415", body: orderBody(nil), header: map[string]string{"Content-Type": "text/plain"}, wantStatus: 415, wantSlug: "unsupported-media-type"},
		{name: "no_content_type_is_415", body: orderBody(nil), header: map[string]string{"Content-Type": ""}, wantStatus: 415, wantSlug: "unsupported-media-type"},
		{name: "charset_gb18030_is_415", body: orderBody(nil), header: map[string]string{"Content-Type": "application/json; charset=gb18030"}, wantStatus: 415, wantSlug: "unsupported-media-type"},
		{name: "gb18030_body_is_400", body: gb, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "byte_order_mark_is_400", body: "\ufeff" + orderBody(nil), wantStatus: 400, wantSlug: "malformed-json"},
		{name: "duplicate_key_is_400_at_it", body: strings.Replace(orderBody(nil), `"order_ref":"2019-HQ-0042"`, `"order_ref":"K13","order_ref":"K13b"`, 1),
			wantStatus: 400, wantSlug: "malformed-json", wantPointer: "/order_ref"},
		{name: "duplicate_key_in_a_line_is_400_at_it", body: strings.Replace(orderBody(nil), `"quantity":20`, `"quantity":20,"quantity":2`, 1),
			wantStatus: 400, wantSlug: "malformed-json", wantPointer: "/lines/0/quantity"},
		{name: "trailing_data_is_400_at_the_document", body: orderBody(nil) + ` {"order_ref":"K14"}`, wantStatus: 400, wantSlug: "malformed-json", wantPointer: "-"},
		{name: "nesting_too_deep_is_400", body: `{"ship_to":` + tooDeep + `}`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "unknown_field_is_422_at_it", body: orderBody(map[string]any{"ship_to": ship("fax", "x")}), wantStatus: 422, wantSlug: "validation", wantPointer: "/ship_to/fax"},
		// No control characters in any text.
		{name: "nul_in_order_ref", body: orderBody(map[string]any{"order_ref": "K13\x00"}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/order_ref"},
		{name: "nul_in_branch_code", body: orderBody(map[string]any{"branch_code": "HQ\x00"}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/branch_code"},
		{name: "nul_in_ship_to_name", body: orderBody(map[string]any{"ship_to": ship("name", "王\x00芳")}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/ship_to/name"},
		{name: "bell_in_ship_to_address", body: orderBody(map[string]any{"ship_to": ship("address", "北京市\a")}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/ship_to/address"},
		{name: "line_break_in_address", body: orderBody(map[string]any{"ship_to": ship("address", "北京市\r\n西城区")}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/ship_to/address"},
		{name: "nul_in_sku", body: orderBody(map[string]any{"lines": line(map[string]any{"sku": "YC-APL-5KG-DZ\x00"})}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/lines/0/sku"},
		{name: "nul_in_recipient_name", body: orderBody(map[string]any{"delivery_mode": "per_recipient",
			"lines": line(map[string]any{"recipients": []any{rcp("name", "李\x00明")}})}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/lines/0/recipients/0/name"},
		{name: "lone_surrogate_in_name", body: strings.Replace(orderBody(nil), `"王*"`, `"\ud800"`, 1), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/ship_to/name"},
		{name: "bidi_override_in_address", body: orderBody(map[string]any{"ship_to": ship("address", "北京\u202e市")}), wantStatus: 400, wantSlug: "invalid-text", wantPointer: "/ship_to/address"},
		{name: "nul_in_a_member_name", body: `{"order_ref\u0000":"K13"}`, wantStatus: 400, wantSlug: "invalid-text"},
		// Money exactly as the contract's pattern.
		{name: "money_with_three_decimals", body: orderBody(map[string]any{"lines": line(map[string]any{"unit_price": "68.000"})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		{name: "money_with_a_plus", body: orderBody(map[string]any{"lines": line(map[string]any{"unit_price": "+68.00"})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		{name: "money_with_a_space", body: orderBody(map[string]any{"lines": line(map[string]any{"unit_price": " 68.00"})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		{name: "money_with_a_leading_zero", body: orderBody(map[string]any{"lines": line(map[string]any{"unit_price": "068.00"})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		{name: "money_with_a_bare_point", body: orderBody(map[string]any{"lines": line(map[string]any{"unit_price": "68."})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		{name: "money_too_large", body: orderBody(map[string]any{"lines": line(map[string]any{"unit_price": "9999999999999999999.00"})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		// Quantities whole and bounded, codes and refs by pattern, phones dialable.
		{name: "quantity_above_the_bound", body: orderBody(map[string]any{"lines": line(map[string]any{"quantity": orders.MaxQuantity + 1})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/quantity"},
		{name: "quantity_with_a_fraction", body: orderBody(map[string]any{"lines": line(map[string]any{"quantity": 20.0001})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/quantity"},
		{name: "quantity_as_a_string", body: orderBody(map[string]any{"lines": line(map[string]any{"quantity": "20"})}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/quantity"},
		{name: "order_ref_with_spaces", body: orderBody(map[string]any{"order_ref": "K 13"}), wantStatus: 422, wantSlug: "validation", wantPointer: "/order_ref"},
		{name: "branch_code_not_a_code", key: "key-office", body: orderBody(map[string]any{"branch_code": "HQ;--"}), wantStatus: 422, wantSlug: "validation", wantPointer: "/branch_code"},
		{name: "phone_all_stars", body: orderBody(map[string]any{"ship_to": ship("phone", "*******")}), wantStatus: 422, wantSlug: "validation", wantPointer: "/ship_to/phone"},
		{name: "phone_masked", body: orderBody(map[string]any{"ship_to": ship("phone", "138****1234")}), wantStatus: 422, wantSlug: "validation", wantPointer: "/ship_to/phone"},
		{name: "phone_all_same_digits", body: orderBody(map[string]any{"ship_to": ship("phone", "11111111111")}), wantStatus: 422, wantSlug: "validation", wantPointer: "/ship_to/phone"},
		// placed_at within the window; lists bounded.
		{name: "placed_at_in_1990", key: "key-office", body: orderBody(map[string]any{"placed_at": "1990-03-01T10:00:00+08:00"}), wantStatus: 422, wantSlug: "validation", wantPointer: "/placed_at"},
		{name: "placed_at_two_days_ahead", key: "key-office", body: orderBody(map[string]any{"placed_at": testNow.Add(48 * time.Hour).Format(time.RFC3339)}), wantStatus: 422, wantSlug: "validation", wantPointer: "/placed_at"},
		{name: "too_many_lines", body: orderBody(map[string]any{"lines": manyLines}), wantStatus: 422, wantSlug: "validation", wantPointer: "/lines"},
		// per_recipient names its recipients on every line.
		{name: "per_recipient_without_recipients_points_at_them", body: orderBody(map[string]any{"delivery_mode": "per_recipient", "ship_to": nil}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/recipients"},
		{name: "per_recipient_with_ship_to_and_no_recipients", body: orderBody(map[string]any{"delivery_mode": "per_recipient"}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/recipients"},
		// Path and query parameters.
		{name: "nul_in_household_number", key: "key-office", method: http.MethodGet, path: "/v1/households/6106300001%00", wantStatus: 400, wantSlug: "invalid-text", wantParam: "no"},
		{name: "not_utf8_household_number", key: "key-office", method: http.MethodGet, path: "/v1/households/%C0%AF", wantStatus: 400, wantSlug: "invalid-text", wantParam: "no"},
		{name: "nul_in_provenance_household", key: "key-office", method: http.MethodGet, path: "/v1/households/%00/provenance", wantStatus: 400, wantSlug: "invalid-text", wantParam: "no"},
		{name: "nul_in_order_ref_filter", method: http.MethodGet, path: "/v1/orders?order_ref=K13%00", wantStatus: 400, wantSlug: "invalid-text", wantParam: "order_ref"},
		{name: "nul_in_branch_filter", key: "key-office", method: http.MethodGet, path: "/v1/orders?branch=HQ%00", wantStatus: 400, wantSlug: "invalid-text", wantParam: "branch"},
		{name: "nul_in_a_parameter_name", key: "key-office", method: http.MethodGet, path: "/v1/orders?a%00=1", wantStatus: 400, wantSlug: "invalid-text"},
		{name: "nul_in_a_report_parameter", key: "key-office", method: http.MethodGet, path: "/v1/reports/benefit?year=2019&by=county%00", wantStatus: 400, wantSlug: "invalid-text", wantParam: "by"},
		{name: "nul_in_a_budget_branch", key: "key-office", method: http.MethodPut, path: "/v1/budgets/HQ%00/2019", body: `{"amount":"100.00"}`, wantStatus: 400, wantSlug: "invalid-text", wantParam: "branch"},
		{name: "garbage_cursor", method: http.MethodGet, path: "/v1/orders?cursor=garbage", wantStatus: 400, wantSlug: "invalid-parameter", wantParam: "cursor"},
		{name: "forged_cursor", method: http.MethodGet, path: "/v1/orders?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("1.-5")), wantStatus: 400, wantSlug: "invalid-parameter", wantParam: "cursor"},
	}
	return cases
}

// TestInputIsExactlyTheContract sends careless and hostile input to the API on SQLite and
// PostgreSQL: each is refused with its status, problem type and a pointer or parameter per
// bad field, never a 5xx, and nothing is stored.
func TestInputIsExactlyTheContract(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		h := newHarnessOn(t, db)
		for i, tc := range inputCases(t) {
			t.Run(tc.name, func(t *testing.T) {
				key := tc.key
				if key == "" {
					key = "key-hq"
				}
				r := request{method: http.MethodPost, path: "/v1/orders", key: key, body: tc.body,
					header: map[string]string{"Idempotency-Key": fmt.Sprintf(`"input-%d"`, i)}}
				if tc.method != "" {
					r.method, r.path = tc.method, tc.path
				}
				for k, v := range tc.header {
					r.header[k] = v
				}
				rec := h.do(r)
				if rec.Code != tc.wantStatus {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
				}
				p := problemOf(t, rec)
				if p.Type != ProblemTypeBase+tc.wantSlug {
					t.Errorf("type %q, want slug %q", p.Type, tc.wantSlug)
				}
				switch {
				case tc.wantPointer == "-":
					if !strings.Contains(rec.Body.String(), `"pointer":""`) {
						t.Errorf("no entry pointing at the whole document: %s", rec.Body)
					}
				case tc.wantPointer != "":
					if !slices.ContainsFunc(p.Errors, func(e FieldProblem) bool { return e.Pointer == tc.wantPointer }) {
						t.Errorf("no error at %s: %s", tc.wantPointer, rec.Body)
					}
				case tc.wantParam != "":
					if !slices.ContainsFunc(p.Errors, func(e FieldProblem) bool { return e.Parameter == tc.wantParam }) {
						t.Errorf("no error naming parameter %s: %s", tc.wantParam, rec.Body)
					}
				default:
					if len(p.Errors) == 0 && tc.wantStatus != 415 {
						t.Errorf("no errors[]: %s", rec.Body)
					}
				}
			})
		}
		if page, _, err := h.store.ListOrders(context.Background(), orders.ListFilter{}); err != nil || len(page) != 0 {
			t.Errorf("refused requests stored %d orders (%v)", len(page), err)
		}
	})
}

// TestInputTheContractTakes: what the contract allows is taken, on SQLite and PostgreSQL —
// money without decimals or with one, two lines of one SKU (as `aidmall import orders`
// takes them), and text compared in NFC, so that the same reference typed two ways is one.
func TestInputTheContractTakes(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		h := newHarnessOn(t, db)
		for i, price := range []string{"68", "68.0", "68.00"} {
			rec := h.place("key-hq", fmt.Sprintf(`"price-%d"`, i), orderBody(map[string]any{"order_ref": fmt.Sprintf("P-%d", i),
				"lines": line(map[string]any{"unit_price": price})}))
			if rec.Code != http.StatusCreated {
				t.Errorf("unit_price %q: %d %s", price, rec.Code, rec.Body)
			}
		}
		rec := h.place("key-hq", `"same-sku"`, orderBody(map[string]any{"order_ref": "SAME-SKU", "lines": []any{
			map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20}, map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 5, "unit_price": "68.00"}}}))
		if rec.Code != http.StatusCreated {
			t.Fatalf("two lines of one SKU: %d %s", rec.Code, rec.Body)
		}
		if o := decodeOrder(t, rec.Body.Bytes()); len(o.Lines) != 2 || o.Lines[0].LineNo != 1 || o.Lines[1].LineNo != 2 ||
			o.Lines[1].SKU != "YC-APL-5KG-DZ" || o.Lines[1].Quantity != 5 || o.TotalAmount != 25*6800 {
			t.Errorf("two lines of one SKU: %s", rec.Body)
		}
		// "Café" typed as e + U+0301, then precomposed: one reference.
		if rec := h.place("key-hq", `"nfc-1"`, orderBody(map[string]any{"order_ref": "Cafe\u0301-1"})); rec.Code != http.StatusCreated {
			t.Fatalf("decomposed order_ref: %d %s", rec.Code, rec.Body)
		}
		if rec := h.place("key-hq", `"nfc-2"`, orderBody(map[string]any{"order_ref": "Caf\u00e9-1"})); rec.Code != http.StatusConflict {
			t.Errorf("the same order_ref precomposed: %d %s, want 409", rec.Code, rec.Body)
		}
		rec = h.do(request{method: http.MethodGet, path: "/v1/orders?order_ref=" + url.QueryEscape("Cafe\u0301-1"), key: "key-hq"})
		var page struct {
			Items []OrderJSON `json:"items"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Items) != 1 || page.Items[0].OrderRef != "Caf\u00e9-1" {
			t.Errorf("order_ref filter in another normal form: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestTwoLinesOfOneSKUDeliveredAndAttributed: an order with two lines of one SKU, placed
// through the API, is delivered line by line (events name line_no) and each line's
// delivery counts once, on SQLite and PostgreSQL: the order shows each line's quantity and
// the benefit report the two lines' sum.
func TestTwoLinesOfOneSKUDeliveredAndAttributed(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		h := newHarnessOn(t, db)
		rec := h.place("key-office", `"two-lines"`, orderBody(map[string]any{"order_ref": "TWO-LINES",
			"placed_at": "2019-03-01T10:00:00+08:00", "lines": []any{
				map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20}, map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 5}}}))
		if rec.Code != http.StatusCreated {
			t.Fatalf("place: %d %s", rec.Code, rec.Body)
		}
		placed := decodeOrder(t, rec.Body.Bytes())
		o, err := h.orders.Service.Get(context.Background(), orders.Caller{Role: orders.RoleAidOffice}, placed.ID)
		if err != nil {
			t.Fatal(err)
		}
		at := o.PlacedAt
		for i, ev := range []orders.FulfilmentEvent{
			{Type: orders.EventAccepted},
			{Type: orders.EventShipped, LineNo: 1, Quantity: 20}, {Type: orders.EventShipped, LineNo: 2, Quantity: 5},
			{Type: orders.EventDelivered, LineNo: 1, Quantity: 20}, {Type: orders.EventDelivered, LineNo: 2, Quantity: 5},
		} {
			at = at.Add(time.Hour)
			ev.Mall, ev.OutOrderNo, ev.MallOrderNo, ev.OccurredAt = o.Mall, o.OutOrderNo, "M-"+string(o.OutOrderNo), at
			ev.EventID = orders.MallEventID(fmt.Sprintf("%s-%d", o.OutOrderNo, i))
			if _, err := h.orders.Service.Apply(context.Background(), ev); err != nil {
				t.Fatalf("apply %s line %d: %v", ev.Type, ev.LineNo, err)
			}
		}
		rec = h.do(request{method: http.MethodGet, path: fmt.Sprintf("/v1/orders/%d", o.ID), key: "key-office"})
		got := decodeOrder(t, rec.Body.Bytes())
		if got.Status != orders.StatusDelivered || len(got.Lines) != 2 ||
			got.Lines[0].DeliveredQuantity != 20 || got.Lines[1].DeliveredQuantity != 5 || got.Lines[0].HeldEvents+got.Lines[1].HeldEvents != 0 {
			t.Fatalf("order after delivery: %s", rec.Body)
		}
		day := func(s string) bizday.Day {
			d, err := bizday.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		b, err := h.store.Benefit(context.Background(), reports.Query{From: day("2019-03-01"), To: day("2019-03-31"), By: reports.BySKU})
		if err != nil {
			t.Fatal(err)
		}
		// The harness loads the catalogue without households: every booked yuan of both lines
		// is in the ledger once, as unattributed.
		if b.Totals.PurchasedAmount != 25*6800 || b.Totals.UnattributedAmount != 25*6800 {
			t.Errorf("report: purchased %s, unattributed %s; want 1700.00 booked once per line", b.Totals.PurchasedAmount, b.Totals.UnattributedAmount)
		}
	})
}
