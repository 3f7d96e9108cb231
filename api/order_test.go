package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/orders"
)

func decodeOrder(t *testing.T, body []byte) OrderJSON {
	t.Helper()
	var o OrderJSON
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatalf("order body: %v: %s", err, body)
	}
	return o
}

func TestPlaceOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		key         string
		body        string
		header      map[string]string
		wantStatus  int
		wantSlug    string
		wantPointer string // one of the problem's errors must point here
	}{
		{name: "when_valid_bulk_order_expect_201", key: "key-hq", body: orderBody(nil), wantStatus: 201},
		{name: "when_body_is_not_json_expect_400", key: "key-hq", body: `{"order_ref": "x",`, wantStatus: 400, wantSlug: "malformed-json"},
		{name: "when_body_is_a_json_array_expect_422", key: "key-hq", body: `[1,2]`, wantStatus: 422, wantSlug: "validation"},
		{name: "when_unknown_top_field_expect_422_with_pointer", key: "key-hq",
			body: orderBody(map[string]any{"colour": "red"}), wantStatus: 422, wantSlug: "validation", wantPointer: "/colour"},
		{name: "when_unknown_line_field_expect_422_with_pointer", key: "key-hq",
			body:       orderBody(map[string]any{"lines": []any{map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 1, "discount": "1.00"}}}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/discount"},
		{name: "when_unit_price_is_a_bare_number_expect_422_with_pointer", key: "key-hq",
			body:       orderBody(map[string]any{"lines": []any{map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20, "unit_price": 68.00}}}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		{name: "when_unit_price_has_three_decimals_expect_422_with_pointer", key: "key-hq",
			body:       orderBody(map[string]any{"lines": []any{map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 20, "unit_price": "68.001"}}}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		// The bundle lists YC-APL-5KG-DZ at 68.00 at CCB and 69.00 at ABC: the service refuses
		// a client that expects the CCB price at ABC.
		{name: "when_unit_price_differs_from_listing_expect_422_with_pointer", key: "key-hq",
			body:       orderBody(map[string]any{"mall": "abc"}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/unit_price"},
		{name: "when_quantity_is_fractional_expect_422_with_pointer", key: "key-hq",
			body:       orderBody(map[string]any{"lines": []any{map[string]any{"sku": "YC-APL-5KG-DZ", "quantity": 2.5}}}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/quantity"},
		{name: "when_placed_at_has_no_offset_expect_422_with_pointer", key: "key-office",
			body:       orderBody(map[string]any{"placed_at": "2019-03-01T10:00:00"}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/placed_at"},
		{name: "when_sku_unknown_expect_422_with_pointer", key: "key-hq",
			body:       orderBody(map[string]any{"lines": []any{map[string]any{"sku": "NO-SUCH-SKU", "quantity": 1}}}),
			wantStatus: 422, wantSlug: "validation", wantPointer: "/lines/0/sku"},
		{name: "when_branch_staff_sets_placed_at_expect_403", key: "key-hq",
			body: orderBody(map[string]any{"placed_at": "2019-03-01T10:00:00+08:00"}), wantStatus: 403, wantSlug: "forbidden"},
		{name: "when_branch_staff_orders_for_another_branch_expect_403", key: "key-s01",
			body: orderBody(nil), wantStatus: 403, wantSlug: "forbidden"},
		{name: "when_auditor_places_expect_403", key: "key-auditor", body: orderBody(nil), wantStatus: 403, wantSlug: "forbidden"},
		{name: "when_empty_body_expect_400", key: "key-hq", body: "", wantStatus: 400, wantSlug: "malformed-json"},
		{name: "when_content_type_is_xml_expect_415", key: "key-hq", body: orderBody(nil),
			header: map[string]string{"Content-Type": "application/xml"}, wantStatus: 415, wantSlug: "unsupported-media-type"},
		{name: "when_body_exceeds_limit_expect_413", key: "key-hq",
			body:       orderBody(map[string]any{"order_ref": strings.Repeat("x", 2<<20)}),
			wantStatus: 413, wantSlug: "body-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			hdr := map[string]string{"Idempotency-Key": `"` + tt.name + `"`}
			for k, v := range tt.header {
				hdr[k] = v
			}
			rec := h.do(request{method: http.MethodPost, path: "/v1/orders", key: tt.key, body: tt.body, header: hdr})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == 201 {
				return
			}
			p := problemOf(t, rec)
			if p.Type != ProblemTypeBase+tt.wantSlug {
				t.Errorf("type %q, want slug %q", p.Type, tt.wantSlug)
			}
			if tt.wantPointer == "" {
				return
			}
			for _, e := range p.Errors {
				if e.Pointer == tt.wantPointer {
					return
				}
			}
			t.Errorf("no error at %s: %+v", tt.wantPointer, p.Errors)
		})
	}
}

func TestPlaceOrderResponse(t *testing.T) {
	t.Parallel()
	t.Run("when_placed_expect_location_amounts_as_strings_and_masked_phone", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.place("key-hq", `"k1"`, orderBody(nil))
		if rec.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		o := decodeOrder(t, rec.Body.Bytes())
		if got, want := rec.Header().Get("Location"), "/v1/orders/"+strconv.FormatInt(o.ID, 10); got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		// 20 × 68.00 = 1360.00 yuan.
		if o.TotalAmount != 136000 || o.Lines[0].Amount != 136000 || o.Lines[0].UnitPrice != 6800 {
			t.Errorf("amounts: total %s, line %s at %s", o.TotalAmount, o.Lines[0].Amount, o.Lines[0].UnitPrice)
		}
		if !strings.Contains(rec.Body.String(), `"total_amount":"1360.00"`) {
			t.Errorf("total not a yuan string: %s", rec.Body)
		}
		if o.ShipTo.Phone != "138****1234" {
			t.Errorf("branch staff sees phone %q, want it masked", o.ShipTo.Phone)
		}
		if !strings.HasSuffix(o.PlacedAt, "+08:00") || !strings.HasSuffix(o.CreatedAt, "+08:00") {
			t.Errorf("times not in Beijing: placed %q created %q", o.PlacedAt, o.CreatedAt)
		}
		if o.Status != orders.StatusPending || o.Mall != mallCCB || o.OutOrderNo == "" {
			t.Errorf("order %+v", o)
		}
	})
	t.Run("when_aid_office_backdates_expect_placed_at_kept_and_phone_clear", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// 2019-03-01T02:00:00Z is 10:00 in Beijing.
		rec := h.place("key-office", `"k1"`, orderBody(map[string]any{"placed_at": "2019-03-01T02:00:00Z"}))
		if rec.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		o := decodeOrder(t, rec.Body.Bytes())
		if o.PlacedAt != "2019-03-01T10:00:00+08:00" {
			t.Errorf("placed_at %q", o.PlacedAt)
		}
		if o.ShipTo.Phone != "13800001234" {
			t.Errorf("aid office sees phone %q, want it in clear", o.ShipTo.Phone)
		}
	})
	t.Run("when_mall_auto_and_only_abc_lists_the_sku_expect_abc", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// YC-PEP-250G-ZS has no CCB listing in products.csv.
		rec := h.place("key-hq", `"k1"`, orderBody(map[string]any{"mall": "auto",
			"lines": []any{map[string]any{"sku": "YC-PEP-250G-ZS", "quantity": 3}}}))
		if rec.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if o := decodeOrder(t, rec.Body.Bytes()); o.Mall != mallABC || o.TotalAmount != 3*3990 {
			t.Errorf("mall %s total %s", o.Mall, o.TotalAmount)
		}
	})
	t.Run("when_order_ref_reused_with_another_key_expect_409", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		if rec := h.place("key-hq", `"k1"`, orderBody(nil)); rec.Code != http.StatusCreated {
			t.Fatalf("first: %d %s", rec.Code, rec.Body)
		}
		rec := h.place("key-hq", `"k2"`, orderBody(nil))
		if rec.Code != http.StatusConflict || problemOf(t, rec).Type != ProblemTypeBase+"conflict" {
			t.Fatalf("second: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("when_several_fields_are_bad_expect_every_one_reported", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		body := `{"order_ref":1,"ship_to":{"name":"a","fax":"x"},"lines":[{"sku":"A","quantity":"2"}],"a/b~c":0}`
		rec := h.place("key-hq", `"k1"`, body)
		p := problemOf(t, rec)
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Pointer)
		}
		want := []string{"/a~1b~0c", "/lines/0/quantity", "/order_ref", "/ship_to/fax"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("pointers %v, want %v", got, want)
		}
	})
}

// seedOrders places orders of two branches through the service (back-dated to the given
// Beijing times) and brings them to their status with the mall's notifications.
func seedOrders(h *harness) (hq, s01 int64) {
	bj := time.FixedZone("CST", 8*3600)
	mk := func(branch, ref string, placed time.Time, status orders.Status) int64 {
		o := h.placeAt(branch, ref, placed, "13912345678")
		h.advance(o, status)
		return o.ID
	}
	hq = mk("HQ", "HQ1", time.Date(2019, 3, 1, 0, 30, 0, 0, bj), orders.StatusAccepted)
	mk("HQ", "HQ2", time.Date(2019, 3, 2, 23, 59, 0, 0, bj), orders.StatusShipped)
	mk("HQ", "HQ3", time.Date(2019, 3, 3, 0, 0, 0, 0, bj), orders.StatusDelivered)
	s01 = mk("S01", "S011", time.Date(2019, 3, 2, 12, 0, 0, 0, bj), orders.StatusAccepted)
	return hq, s01
}

func TestGetOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	hq, s01 := seedOrders(h)
	tests := []struct {
		name       string
		key        string
		path       string
		wantStatus int
		wantPhone  string
	}{
		{"when_branch_reads_its_own_order_expect_200_masked", "key-hq", "/v1/orders/" + strconv.FormatInt(hq, 10), 200, "139****5678"},
		{"when_aid_office_reads_any_order_expect_200_clear", "key-office", "/v1/orders/" + strconv.FormatInt(s01, 10), 200, "13912345678"},
		{"when_branch_reads_another_branchs_order_expect_404", "key-hq", "/v1/orders/" + strconv.FormatInt(s01, 10), 404, ""},
		{"when_order_missing_expect_404", "key-office", "/v1/orders/9999", 404, ""},
		{"when_id_not_a_number_expect_404", "key-office", "/v1/orders/abc", 404, ""},
		{"when_auditor_reads_an_order_expect_403", "key-auditor", "/v1/orders/" + strconv.FormatInt(hq, 10), 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := h.do(request{method: http.MethodGet, path: tt.path, key: tt.key})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 200 {
				problemOf(t, rec)
				return
			}
			if o := decodeOrder(t, rec.Body.Bytes()); o.ShipTo.Phone != tt.wantPhone {
				t.Errorf("phone %q, want %q", o.ShipTo.Phone, tt.wantPhone)
			}
		})
	}
}

func TestListOrders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seedOrders(h)
	refs := func(t *testing.T, body []byte) (string, string) {
		var page struct {
			Items      []OrderJSON `json:"items"`
			NextCursor string      `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil || page.Items == nil {
			t.Fatalf("page: %v %s", err, body)
		}
		var r []string
		for _, o := range page.Items {
			r = append(r, o.OrderRef)
		}
		return strings.Join(r, ","), page.NextCursor
	}
	tests := []struct {
		name       string
		key        string
		query      string
		wantStatus int
		wantRefs   string // newest first
		wantParam  string // for 400s
	}{
		{name: "when_branch_lists_expect_only_its_own_newest_first", key: "key-hq", wantStatus: 200, wantRefs: "HQ3,HQ2,HQ1"},
		{name: "when_branch_filters_another_branch_expect_empty_page", key: "key-hq", query: "branch=S01", wantStatus: 200, wantRefs: ""},
		{name: "when_aid_office_lists_expect_every_branch", key: "key-office", wantStatus: 200, wantRefs: "HQ3,HQ2,S011,HQ1"},
		// to is inclusive in Beijing time: 2019-03-02 23:59 +08:00 is in, 03-03 00:00 is out.
		{name: "when_from_to_given_expect_beijing_days_inclusive", key: "key-office", query: "from=2019-03-02&to=2019-03-02",
			wantStatus: 200, wantRefs: "HQ2,S011"},
		{name: "when_status_filter_expect_matching_only", key: "key-hq", query: "status=shipped", wantStatus: 200, wantRefs: "HQ2"},
		{name: "when_limit_2_expect_first_page", key: "key-hq", query: "limit=2", wantStatus: 200, wantRefs: "HQ3,HQ2"},
		{name: "when_date_malformed_expect_400_naming_it", key: "key-hq", query: "from=2019-3-1", wantStatus: 400, wantParam: "from"},
		{name: "when_to_before_from_expect_400_naming_to", key: "key-hq", query: "from=2019-03-02&to=2019-03-01", wantStatus: 400, wantParam: "to"},
		{name: "when_unknown_parameter_expect_400_naming_it", key: "key-hq", query: "branch_code=HQ", wantStatus: 400, wantParam: "branch_code"},
		{name: "when_limit_out_of_range_expect_400", key: "key-hq", query: "limit=500", wantStatus: 400, wantParam: "limit"},
		{name: "when_mall_unknown_expect_400", key: "key-hq", query: "mall=icbc", wantStatus: 400, wantParam: "mall"},
		{name: "when_status_unknown_expect_400", key: "key-hq", query: "status=lost", wantStatus: 400, wantParam: "status"},
		{name: "when_parameter_repeated_expect_400", key: "key-hq", query: "mall=ccb&mall=abc", wantStatus: 400, wantParam: "mall"},
		{name: "when_auditor_lists_expect_403", key: "key-auditor", wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := h.do(request{method: http.MethodGet, path: "/v1/orders?" + tt.query, key: tt.key})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 200 {
				p := problemOf(t, rec)
				if tt.wantParam != "" && (len(p.Errors) == 0 || p.Errors[0].Parameter != tt.wantParam) {
					t.Errorf("errors %+v, want parameter %q", p.Errors, tt.wantParam)
				}
				return
			}
			if got, _ := refs(t, rec.Body.Bytes()); got != tt.wantRefs {
				t.Errorf("orders %q, want %q", got, tt.wantRefs)
			}
		})
	}
	t.Run("when_following_next_cursor_expect_the_rest", func(t *testing.T) {
		t.Parallel()
		rec := h.do(request{method: http.MethodGet, path: "/v1/orders?limit=2", key: "key-hq"})
		_, next := refs(t, rec.Body.Bytes())
		if next == "" {
			t.Fatal("no next_cursor on a full first page")
		}
		rec = h.do(request{method: http.MethodGet, path: "/v1/orders?limit=2&cursor=" + url.QueryEscape(next), key: "key-hq"})
		if got, last := refs(t, rec.Body.Bytes()); got != "HQ1" || last != "" {
			t.Errorf("second page %q next %q", got, last)
		}
	})
}

func TestCancelOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		key        string
		order      string // "hq" accepted, "shipped", "s01"
		body       string
		wantStatus int
		wantSlug   string
	}{
		{name: "when_accepted_order_cancelled_expect_200_cancel_requested", key: "key-hq", order: "hq", wantStatus: 200},
		{name: "when_reason_given_expect_200", key: "key-hq", order: "hq", body: `{"reason":"活动取消"}`, wantStatus: 200},
		{name: "when_body_has_unknown_field_expect_422", key: "key-hq", order: "hq", body: `{"why":"x"}`, wantStatus: 422, wantSlug: "validation"},
		{name: "when_reason_too_long_expect_422", key: "key-hq", order: "hq",
			body: `{"reason":"` + strings.Repeat("长", 201) + `"}`, wantStatus: 422, wantSlug: "validation"},
		{name: "when_order_shipped_expect_409_not_allowed", key: "key-hq", order: "shipped", wantStatus: 409, wantSlug: "not-allowed"},
		{name: "when_another_branchs_order_expect_404", key: "key-hq", order: "s01", wantStatus: 404, wantSlug: "not-found"},
		{name: "when_auditor_cancels_expect_403", key: "key-auditor", order: "hq", wantStatus: 403, wantSlug: "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			hq, s01 := seedOrders(h) // ids: hq=1, HQ2 (shipped)=2, HQ3=3, s01=4
			id := map[string]int64{"hq": hq, "shipped": hq + 1, "s01": s01}[tt.order]
			rec := h.do(request{method: http.MethodPost, path: "/v1/orders/" + strconv.FormatInt(id, 10) + "/cancel",
				key: tt.key, body: tt.body})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 200 {
				if p := problemOf(t, rec); p.Type != ProblemTypeBase+tt.wantSlug {
					t.Errorf("type %q", p.Type)
				}
				return
			}
			if o := decodeOrder(t, rec.Body.Bytes()); !o.CancelRequested || o.Status != orders.StatusCancelRequested {
				t.Errorf("cancel not requested: %s", rec.Body)
			}
			// cancel_requested is a status like the others: the list filters on it.
			list := h.do(request{method: http.MethodGet, path: "/v1/orders?status=cancel_requested", key: tt.key})
			var p struct {
				Items []OrderJSON `json:"items"`
			}
			if err := json.Unmarshal(list.Body.Bytes(), &p); list.Code != 200 || err != nil || len(p.Items) != 1 || p.Items[0].ID != id {
				t.Errorf("?status=cancel_requested: %d %s, want the one cancelled order", list.Code, list.Body)
			}
		})
	}
}

// TestListCursorOverHTTP follows next_cursor while orders keep being placed, on SQLite and
// PostgreSQL: the pages are the production keyset, so no order is repeated or skipped, and
// a cursor the server did not issue is refused as a bad parameter.
func TestListCursorOverHTTP(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		h := newHarnessOn(t, db)
		bj := time.FixedZone("CST", 8*3600)
		want := map[string]bool{}
		for i := range 5 {
			ref := fmt.Sprintf("HQ-%d", i)
			h.placeAt("HQ", ref, time.Date(2019, 3, 1, 9+i, 0, 0, 0, bj), "13912345678")
			want[ref] = true
		}
		seen := map[string]int{}
		cursor := ""
		for page := 1; ; page++ {
			rec := h.do(request{method: http.MethodGet, path: "/v1/orders?limit=2&cursor=" + url.QueryEscape(cursor), key: "key-hq"})
			if rec.Code != http.StatusOK {
				t.Fatalf("page %d: %d %s", page, rec.Code, rec.Body)
			}
			var p struct {
				Items      []OrderJSON `json:"items"`
				NextCursor string      `json:"next_cursor"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			for _, o := range p.Items {
				seen[o.OrderRef]++
			}
			if p.NextCursor == "" {
				break
			}
			// A newer order lands between the page reads (it would shift an offset).
			h.placeAt("HQ", fmt.Sprintf("NEW-%d", page), time.Date(2019, 3, 2, 9+page, 0, 0, 0, bj), "13912345678")
			cursor = p.NextCursor
		}
		for ref := range want {
			if seen[ref] != 1 {
				t.Errorf("order %s listed %d times, want once", ref, seen[ref])
			}
		}
		for ref, n := range seen {
			if !want[ref] {
				t.Errorf("order %s (placed after the first page, newer) listed %d times on later pages", ref, n)
			}
		}
		rec := h.do(request{method: http.MethodGet, path: "/v1/orders?cursor=garbage", key: "key-hq"})
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("cursor=garbage: %d %s, want 400 like every other bad parameter", rec.Code, rec.Body)
		}
		if p := problemOf(t, rec); len(p.Errors) != 1 || p.Errors[0].Parameter != "cursor" {
			t.Errorf("cursor=garbage: errors %+v, want one naming the parameter cursor", p.Errors)
		}
	})
}
