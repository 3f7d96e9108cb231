package ccb_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/ccb"
	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
)

// mallNow is the fake mall's clock: 2019-03-12 10:00:00 Beijing (02:00 UTC).
var mallNow = beijing(2019, 3, 12, 10, 0, 0)

func newTestClient(t *testing.T, m *fakeMall, mod func(*ccb.Config)) *ccb.Client {
	t.Helper()
	ks := testKeys(t)
	cfg := ccb.Config{
		BaseURL: m.srv.URL, AppID: m.appID, PartnerKey: ks.partner, MallKey: &ks.mall.PublicKey,
		Now: func() time.Time { return mallNow.UTC() }, // any zone: the client sends Beijing
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := ccb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func appleOrder(no orders.OutOrderNo) orders.CreateRequest {
	return orders.CreateRequest{
		OutOrderNo: no, BuyerRef: "2019-HQ-0001", BuyerName: "集团总部机关工会",
		DeliveryMode: orders.DeliveryBulk,
		ShipTo:       orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "北京市西城区"},
		Lines:        []orders.CreateLine{{LineNo: 1, ItemID: "CCB-YC-APL-05", Quantity: 20, UnitPrice: 6800}},
		Total:        136000,
		NotifyURL:    "https://aidmall.example/webhooks/ccb",
	}
}

func mallError(t *testing.T, err error) *orders.MallError {
	t.Helper()
	var me *orders.MallError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want *orders.MallError", err, err)
	}
	if me.Mall != ccb.Code {
		t.Errorf("MallError.Mall = %q, want ccb", me.Mall)
	}
	return me
}

func TestNewRejectsMissingDependencies(t *testing.T) {
	t.Parallel()
	ks := testKeys(t)
	good := ccb.Config{BaseURL: "http://127.0.0.1:1", AppID: "1", PartnerKey: ks.partner, MallKey: &ks.mall.PublicKey}
	tests := []struct {
		name string
		mod  func(*ccb.Config)
	}{
		{"missing_base_url", func(c *ccb.Config) { c.BaseURL = "" }},
		{"relative_base_url", func(c *ccb.Config) { c.BaseURL = "/gateway" }},
		{"missing_app_id", func(c *ccb.Config) { c.AppID = "" }},
		{"missing_partner_key", func(c *ccb.Config) { c.PartnerKey = nil }},
		{"missing_mall_key", func(c *ccb.Config) { c.MallKey = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			if _, err := ccb.New(cfg); err == nil {
				t.Fatal("New accepted an incomplete config")
			}
		})
	}
	c, err := ccb.New(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mall() != ccb.Code {
		t.Errorf("Mall() = %q", c.Mall())
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()

	t.Run("create_sends_the_spec_envelope_and_returns_the_mall_order", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		res, err := c.Create(context.Background(), appleOrder("AM20190312100000000001"))
		if err != nil {
			t.Fatal(err)
		}
		if res.MallOrderNo == "" || res.Status != "ACCEPTED" {
			t.Fatalf("result = %+v", res)
		}
		p := m.lastRequest()
		if p["method"] != "mall.order.create" || p["notify_url"] != "https://aidmall.example/webhooks/ccb" {
			t.Errorf("method/notify_url = %q/%q", p["method"], p["notify_url"])
		}
		if p["timestamp"] != "2019-03-12 10:00:00" {
			t.Errorf("timestamp = %q, want Beijing wall time 2019-03-12 10:00:00", p["timestamp"])
		}
		if n := len(p["nonce"]); n < 16 || n > 32 {
			t.Errorf("nonce %q has %d characters", p["nonce"], n)
		}
		var biz map[string]any
		if err := json.Unmarshal([]byte(p["biz_content"]), &biz); err != nil {
			t.Fatal(err)
		}
		if biz["total_amount"] != "1360.00" || biz["buyer_name"] != "集团总部机关工会" || biz["delivery_mode"] != "bulk" {
			t.Errorf("biz_content = %s", p["biz_content"])
		}
		line := biz["lines"].([]any)[0].(map[string]any)
		if line["unit_price"] != "68.00" || line["quantity"] != float64(20) || line["line_no"] != float64(1) {
			t.Errorf("line = %v", line)
		}
		if _, ok := line["recipients"]; ok {
			t.Errorf("bulk line carries recipients: %v", line)
		}
	})

	t.Run("repeating_the_same_create_returns_the_same_order", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		req := appleOrder("AM20190312100000000002")
		first, err := c.Create(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		req.NotifyURL = "https://other.example/hook" // not part of the content
		again, err := c.Create(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("repeat = %+v, first = %+v", again, first)
		}
	})

	t.Run("per_recipient_lines_carry_recipients", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		req := appleOrder("AM20190312100000000003")
		req.DeliveryMode = orders.DeliveryPerRecipient
		req.ShipTo = orders.ShipTo{}
		req.Lines = []orders.CreateLine{{LineNo: 1, ItemID: "CCB-DB-HJ-250", Quantity: 3, UnitPrice: 4550, Recipients: []orders.Recipient{
			{Name: "李*", Phone: "139****0001", Address: "延安市", Quantity: 1},
			{Name: "张*", Phone: "139****0002", Address: "榆林市", Quantity: 2},
		}}}
		req.Total = 13650
		if _, err := c.Create(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		biz := m.lastRequest()["biz_content"]
		if !strings.Contains(biz, `"recipients":[{"name":"李*"`) || strings.Contains(biz, "ship_to") {
			t.Errorf("biz_content = %s", biz)
		}
		if !strings.Contains(biz, `"unit_price":"45.50"`) || !strings.Contains(biz, `"total_amount":"136.50"`) {
			t.Errorf("amounts not yuan with 2 decimals: %s", biz)
		}
	})

	refusals := []struct {
		name      string
		arm       func(*fakeMall)
		mod       func(*orders.CreateRequest)
		code, sub string
		retryable bool
		is        error
	}{
		{name: "price_mismatch_is_final", mod: func(r *orders.CreateRequest) { r.Lines[0].UnitPrice = 6900; r.Total = 138000 },
			code: "40005", sub: "PRICE_MISMATCH"},
		{name: "unlisted_item_is_final", mod: func(r *orders.CreateRequest) { r.Lines[0].ItemID = "CCB-NOPE" },
			code: "40005", sub: "ITEM_NOT_LISTED"},
		{name: "wrong_total_is_final", mod: func(r *orders.CreateRequest) { r.Total = 100 },
			code: "40006", sub: "AMOUNT_MISMATCH"},
		{name: "system_busy_is_retryable", arm: func(m *fakeMall) { m.busy = 1 },
			code: "20000", sub: "SYSTEM_BUSY", retryable: true},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newFakeMall(t, func() time.Time { return mallNow })
			if tt.arm != nil {
				tt.arm(m)
			}
			c := newTestClient(t, m, nil)
			req := appleOrder("AM20190312100000000010")
			if tt.mod != nil {
				tt.mod(&req)
			}
			_, err := c.Create(context.Background(), req)
			me := mallError(t, err)
			if me.Code != tt.code || me.SubCode != tt.sub || me.Retryable != tt.retryable || me.Message == "" {
				t.Fatalf("MallError = %+v, want code %s/%s retryable %v with a message", me, tt.code, tt.sub, tt.retryable)
			}
		})
	}

	t.Run("other_content_under_the_same_number_is_a_conflict", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		req := appleOrder("AM20190312100000000011")
		if _, err := c.Create(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		req.Lines[0].Quantity, req.Total = 21, 142800
		_, err := c.Create(context.Background(), req)
		me := mallError(t, err)
		if me.Code != "40004" || me.Retryable || !errors.Is(err, orders.ErrConflict) {
			t.Fatalf("MallError = %+v", me)
		}
	})

	t.Run("malformed_request_is_refused_without_a_call", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		for name, mod := range map[string]func(*orders.CreateRequest){
			"bad_out_order_no":    func(r *orders.CreateRequest) { r.OutOrderNo = "AM-1" },
			"no_notify_url":       func(r *orders.CreateRequest) { r.NotifyURL = "" },
			"no_lines":            func(r *orders.CreateRequest) { r.Lines = nil },
			"zero_quantity":       func(r *orders.CreateRequest) { r.Lines[0].Quantity = 0 },
			"recipients_on_bulk":  func(r *orders.CreateRequest) { r.Lines[0].Recipients = []orders.Recipient{{Quantity: 20}} },
			"long_buyer_ref":      func(r *orders.CreateRequest) { r.BuyerRef = strings.Repeat("工", 65) },
			"unknown_delivery":    func(r *orders.CreateRequest) { r.DeliveryMode = "drone" },
			"negative_unit_price": func(r *orders.CreateRequest) { r.Lines[0].UnitPrice = -1 },
		} {
			req := appleOrder("AM20190312100000000012")
			mod(&req)
			_, err := c.Create(context.Background(), req)
			me := mallError(t, err)
			if me.Retryable || !errors.Is(err, orders.ErrInvalid) {
				t.Errorf("%s: MallError = %+v, want final wrapping ErrInvalid", name, me)
			}
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.requests) != 0 {
			t.Errorf("the mall saw %d requests", len(m.requests))
		}
	})
}

func TestTransportFaults(t *testing.T) {
	t.Parallel()
	ks := testKeys(t)
	tests := []struct {
		name       string
		arm        func(*fakeMall)
		mod        func(*ccb.Config)
		httpStatus int
		badSign    bool
	}{
		{name: "http_5xx_is_retryable", arm: func(m *fakeMall) { m.fail5xx = 1 }, httpStatus: 502},
		{name: "timeout_is_retryable", arm: func(m *fakeMall) { m.hang = true },
			mod: func(c *ccb.Config) { c.HTTP = &http.Client{Timeout: 200 * time.Millisecond} }},
		{name: "answer_signed_with_another_key_is_retryable", arm: func(m *fakeMall) { m.signWith = ks.stranger },
			httpStatus: 200, badSign: true},
		{name: "answer_changed_after_signing_is_retryable", arm: func(m *fakeMall) { m.tamperData = true },
			httpStatus: 200, badSign: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newFakeMall(t, func() time.Time { return mallNow })
			tt.arm(m)
			c := newTestClient(t, m, tt.mod)
			_, err := c.Create(context.Background(), appleOrder("AM20190312100000000020"))
			me := mallError(t, err)
			if !me.Retryable || me.HTTPStatus != tt.httpStatus || me.Code != "" {
				t.Fatalf("MallError = %+v, want retryable, HTTP %d, no code", me, tt.httpStatus)
			}
			if got := errors.Is(err, ccb.ErrBadSignature); got != tt.badSign {
				t.Fatalf("errors.Is(err, ErrBadSignature) = %v, want %v (err %v)", got, tt.badSign, err)
			}
		})
	}

	t.Run("context_deadline_is_retryable", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		m.hang = true
		c := newTestClient(t, m, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Query(ctx, "AM1")
		if me := mallError(t, err); !me.Retryable || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("MallError = %+v", me)
		}
	})

	t.Run("clock_11_minutes_behind_is_refused_as_stale", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, func(cfg *ccb.Config) { cfg.Now = func() time.Time { return mallNow.Add(-11 * time.Minute) } })
		_, err := c.Query(context.Background(), "AM1")
		if me := mallError(t, err); me.Code != "40003" || me.Retryable {
			t.Fatalf("MallError = %+v, want final 40003", me)
		}
	})

	t.Run("every_call_uses_a_fresh_nonce", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		for i := 0; i < 3; i++ {
			if _, err := c.Query(context.Background(), "AM1"); !errors.Is(err, orders.ErrNotFound) {
				t.Fatalf("call %d: %v, want not found (a reused nonce would be 40003)", i, err)
			}
		}
	})

	t.Run("bad_injected_nonce_is_refused_without_a_call", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, func(cfg *ccb.Config) { cfg.Nonce = func() string { return "short" } })
		if _, err := c.Query(context.Background(), "AM1"); mallError(t, err).Retryable {
			t.Fatal("a bad nonce was called retryable")
		}
	})
}

// Retry-After is read from every answer, signed or not: an unsigned 429 (a gateway in
// front of the mall) keeps it, as do a 502 and a signed 20000; a final refusal has none.
func TestRetryAfter_from_any_answer(t *testing.T) {
	t.Parallel()
	date := mallNow.Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		arm       func(*fakeMall)
		status    int
		retryable bool
		want      time.Duration
	}{
		{"unsigned_429_seconds", func(m *fakeMall) { m.throttle, m.retryAfter = 1, "120" }, 429, true, 120 * time.Second},
		{"unsigned_429_http_date", func(m *fakeMall) { m.throttle, m.retryAfter = 1, date }, 429, true, 90 * time.Second},
		{"unsigned_429_without_header", func(m *fakeMall) { m.throttle = 1 }, 429, true, 0},
		{"unsigned_502_seconds", func(m *fakeMall) { m.fail5xx, m.retryAfter = 1, "30" }, 502, true, 30 * time.Second},
		{"signed_20000_seconds", func(m *fakeMall) { m.busy, m.retryAfter = 1, "45" }, 200, true, 45 * time.Second},
		{"final_refusal_has_no_wait", func(m *fakeMall) { m.retryAfter = "45" }, 200, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newFakeMall(t, func() time.Time { return mallNow })
			tt.arm(m)
			c := newTestClient(t, m, nil)
			req := appleOrder("AM20190312100000000030")
			req.Lines[0].UnitPrice, req.Total = 1, 20 // a price mismatch: final when it reaches the mall
			_, err := c.Create(context.Background(), req)
			me := mallError(t, err)
			if me.HTTPStatus != tt.status || me.Retryable != tt.retryable || me.RetryAfter != tt.want {
				t.Fatalf("MallError = %+v, want HTTP %d retryable %v RetryAfter %s", me, tt.status, tt.retryable, tt.want)
			}
		})
	}
}

func TestQueryAndCancel(t *testing.T) {
	t.Parallel()

	t.Run("query_returns_lines_and_sends_no_notify_url", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		res, err := c.Create(context.Background(), appleOrder("AM20190312100000000030"))
		if err != nil {
			t.Fatal(err)
		}
		m.ship("AM20190312100000000030", 1, 5)
		v, err := c.Query(context.Background(), "AM20190312100000000030")
		if err != nil {
			t.Fatal(err)
		}
		if v.MallOrderNo != res.MallOrderNo || v.OutOrderNo != "AM20190312100000000030" || v.Status != "SHIPPED" {
			t.Errorf("view = %+v", v)
		}
		if len(v.Lines) != 1 || v.Lines[0].LineNo != 1 || v.Lines[0].Shipped != 5 || v.Lines[0].Status != "SHIPPED" {
			t.Errorf("lines = %+v", v.Lines)
		}
		if _, ok := m.lastRequest()["notify_url"]; ok {
			t.Error("query sent notify_url")
		}
	})

	t.Run("query_of_unknown_order_is_not_found", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		_, err := c.Query(context.Background(), "AM404")
		me := mallError(t, err)
		if !me.NotFound || me.Retryable || me.Code != "40404" || !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("MallError = %+v", me)
		}
	})

	t.Run("cancel_before_shipping_succeeds_and_again_too", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		if _, err := c.Create(context.Background(), appleOrder("AM20190312100000000031")); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := c.Cancel(context.Background(), "AM20190312100000000031", "预算调整"); err != nil {
				t.Fatalf("cancel %d: %v", i, err)
			}
		}
		var biz map[string]string
		json.Unmarshal([]byte(m.lastRequest()["biz_content"]), &biz)
		if biz["reason"] != "预算调整" {
			t.Errorf("biz_content = %v", biz)
		}
	})

	t.Run("cancel_after_shipping_is_final_40010", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, func() time.Time { return mallNow })
		c := newTestClient(t, m, nil)
		if _, err := c.Create(context.Background(), appleOrder("AM20190312100000000032")); err != nil {
			t.Fatal(err)
		}
		m.ship("AM20190312100000000032", 1, 20)
		err := c.Cancel(context.Background(), "AM20190312100000000032", "")
		me := mallError(t, err)
		if me.Code != "40010" || me.SubCode != "ORDER_SHIPPED" || me.Retryable || !errors.Is(err, orders.ErrNotAllowed) {
			t.Fatalf("MallError = %+v", me)
		}
	})
}

func TestClientStatement(t *testing.T) {
	t.Parallel()
	m := newFakeMall(t, func() time.Time { return mallNow })
	c := newTestClient(t, m, nil)
	text := "通知编号,事件类型,商户订单号,商城订单号,行号,数量,退款金额,发生时间\r\n" +
		"N1,order.refunded,AM1,CCB1,1,2,42.00,2019-03-12 09:00:00\r\n"
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	m.statements["2019-03-12"] = []byte(gb)

	t.Run("statement_of_a_day_is_fetched_and_parsed", func(t *testing.T) {
		evs, bad, err := c.Statement(context.Background(), bizday.MustParse("2019-03-12"))
		if err != nil || len(bad) != 0 || len(evs) != 1 {
			t.Fatalf("Statement = %v, %v, %v", evs, bad, err)
		}
		if evs[0].RefundFen != money.Fen(4200) || evs[0].Source != "statement" {
			t.Errorf("event = %+v", evs[0])
		}
	})
	t.Run("missing_statement_is_not_found", func(t *testing.T) {
		_, _, err := c.Statement(context.Background(), bizday.MustParse("2019-03-13"))
		if me := mallError(t, err); !me.NotFound || me.Retryable {
			t.Fatalf("MallError = %+v", me)
		}
	})
}
