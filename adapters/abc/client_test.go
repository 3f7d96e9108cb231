package abc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"aidmall/money"
	"aidmall/orders"
)

// sampleOrder is a BULK order of two listed items at their listed prices:
// 20 × 68.00 + 3 × 128.00 = 1744.00 yuan.
func sampleOrder(no orders.OutOrderNo) orders.CreateRequest {
	return orders.CreateRequest{
		OutOrderNo: no, BuyerRef: "2019-HQ-0001", BuyerName: "集团总部机关工会",
		DeliveryMode: orders.DeliveryBulk,
		ShipTo:       orders.ShipTo{Name: "王*", Phone: "138****0000", Address: "西安市雁塔区"},
		Lines: []orders.CreateLine{
			{LineNo: 1, ItemID: "ABC-770031", Quantity: 20, UnitPrice: 6800},
			{LineNo: 2, ItemID: "ABC-770045", Quantity: 3, UnitPrice: 12800},
		},
		Total: 174400, NotifyURL: "https://aidmall.example/webhooks/abc",
	}
}

func mallError(t *testing.T, err error) *orders.MallError {
	t.Helper()
	var me *orders.MallError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a *orders.MallError", err, err)
	}
	if me.Mall != Code {
		t.Errorf("MallError.Mall = %q, want abc", me.Mall)
	}
	return me
}

func TestNew_rejects_missing_dependencies(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	good := Config{BaseURL: "https://mall.example", AppID: "A", PartnerKey: k.partner, MallKey: &k.mall.PublicKey}
	for name, mut := range map[string]func(*Config){
		"no_app_id":          func(c *Config) { c.AppID = "" },
		"no_partner_key":     func(c *Config) { c.PartnerKey = nil },
		"no_mall_key":        func(c *Config) { c.MallKey = nil },
		"relative_base_url":  func(c *Config) { c.BaseURL = "/open" },
		"ftp_base_url":       func(c *Config) { c.BaseURL = "ftp://mall.example" },
		"base_url_has_query": func(c *Config) { c.BaseURL = "https://mall.example/?a=1" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mut(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
	c, err := New(good)
	if err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	if c.Mall() != Code {
		t.Errorf("Mall() = %q", c.Mall())
	}
	if c.http.Timeout != 10*time.Second {
		t.Errorf("default HTTP timeout = %v, want 10s", c.http.Timeout)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("first_create_201_then_same_content_200_same_order", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, newKeys(t))
		c := m.client(t, nil)
		first, err := c.Create(ctx, sampleOrder("AM20190312000001"))
		if err != nil {
			t.Fatalf("first create: %v", err)
		}
		if first.MallOrderNo == "" || first.Status != "CREATED" {
			t.Errorf("first create = %+v", first)
		}
		// A retry after a lost answer, with another notify URL: not part of the content.
		again := sampleOrder("AM20190312000001")
		again.NotifyURL = "https://other.example/webhooks/abc"
		second, err := c.Create(ctx, again)
		if err != nil {
			t.Fatalf("idempotent create: %v", err)
		}
		if second != first {
			t.Errorf("idempotent create = %+v, want %+v", second, first)
		}
	})

	t.Run("body_is_the_spec_shape_in_integer_fen", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, newKeys(t))
		if _, err := m.client(t, nil).Create(ctx, sampleOrder("AM20190312000002")); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(m.lastCreate, &got); err != nil {
			t.Fatal(err)
		}
		if got["deliveryMode"] != "BULK" || got["totalFen"] != float64(174400) || got["buyerRef"] != "2019-HQ-0001" ||
			got["partnerOrderNo"] != "AM20190312000002" || got["notifyUrl"] != "https://aidmall.example/webhooks/abc" {
			t.Errorf("create body = %s", m.lastCreate)
		}
		items := got["items"].([]any)
		it := items[1].(map[string]any)
		if it["lineNo"] != float64(2) || it["skuId"] != "ABC-770045" || it["quantity"] != float64(3) || it["unitPriceFen"] != float64(12800) {
			t.Errorf("item 2 = %v", it)
		}
		if _, has := it["recipients"]; has {
			t.Errorf("bulk item carries recipients: %v", it)
		}
	})

	t.Run("per_recipient_sends_recipients_and_no_empty_ship_to", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, newKeys(t))
		req := sampleOrder("AM20190312000003")
		req.DeliveryMode, req.ShipTo = orders.DeliveryPerRecipient, orders.ShipTo{}
		req.Lines = req.Lines[:1]
		req.Lines[0].Recipients = []orders.Recipient{
			{Name: "李*", Phone: "139****1111", Address: "延安市", Quantity: 12},
			{Name: "张*", Phone: "137****2222", Address: "榆林市", Quantity: 8},
		}
		req.Total = 136000
		if _, err := m.client(t, nil).Create(ctx, req); err != nil {
			t.Fatal(err)
		}
		var got struct {
			DeliveryMode string          `json:"deliveryMode"`
			ShipTo       json.RawMessage `json:"shipTo"`
			Items        []struct {
				Recipients []orders.Recipient `json:"recipients"`
			} `json:"items"`
		}
		if err := json.Unmarshal(m.lastCreate, &got); err != nil {
			t.Fatal(err)
		}
		if got.DeliveryMode != "PER_RECIPIENT" || got.ShipTo != nil || len(got.Items[0].Recipients) != 2 || got.Items[0].Recipients[1].Quantity != 8 {
			t.Errorf("create body = %s", m.lastCreate)
		}
	})

	// Refusals: final unless the spec says the call may be tried again.
	for _, tc := range []struct {
		name       string
		mutate     func(*orders.CreateRequest)
		hook       func(m *fakeMall) func(http.ResponseWriter, *http.Request) bool
		status     int
		code       string
		retryable  bool
		retryAfter time.Duration
	}{
		{name: "price_mismatch_is_final_422", mutate: func(r *orders.CreateRequest) { r.Lines[0].UnitPrice = 6500; r.Total = 168400 },
			status: 422, code: "PRICE_MISMATCH"},
		{name: "amount_mismatch_is_final_422", mutate: func(r *orders.CreateRequest) { r.Total = 1 },
			status: 422, code: "AMOUNT_MISMATCH"},
		{name: "unlisted_item_is_final_422", mutate: func(r *orders.CreateRequest) { r.Lines[0].ItemID = "ABC-000000" },
			status: 422, code: "ITEM_NOT_LISTED"},
		{name: "throttled_429_is_retryable_after_retry_after_seconds",
			hook:   answerWith(429, "TOO_MANY_REQUESTS", map[string]string{"Retry-After": "7"}),
			status: 429, code: "TOO_MANY_REQUESTS", retryable: true, retryAfter: 7 * time.Second},
		{name: "unavailable_503_is_retryable", hook: answerWith(503, "SERVICE_UNAVAILABLE", nil),
			status: 503, code: "SERVICE_UNAVAILABLE", retryable: true},
		{name: "bad_request_400_is_final", hook: answerWith(400, "BAD_REQUEST", nil), status: 400, code: "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newFakeMall(t, newKeys(t))
			if tc.hook != nil {
				m.hook = tc.hook(m)
			}
			req := sampleOrder("AM20190312000010")
			if tc.mutate != nil {
				tc.mutate(&req)
			}
			_, err := m.client(t, nil).Create(ctx, req)
			me := mallError(t, err)
			if me.HTTPStatus != tc.status || me.Code != tc.code || me.Retryable != tc.retryable || me.RetryAfter != tc.retryAfter || me.NotFound {
				t.Errorf("error = %+v, want status %d code %s retryable %v retry after %v", me, tc.status, tc.code, tc.retryable, tc.retryAfter)
			}
		})
	}

	t.Run("conflicting_content_is_final_409", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, newKeys(t))
		c := m.client(t, nil)
		if _, err := c.Create(ctx, sampleOrder("AM20190312000004")); err != nil {
			t.Fatal(err)
		}
		other := sampleOrder("AM20190312000004")
		other.Lines[0].Quantity, other.Total = 21, 174400+6800
		me := mallError(t, second(c.Create(ctx, other)))
		if me.HTTPStatus != 409 || me.Code != "ORDER_CONFLICT" || me.Retryable {
			t.Errorf("error = %+v", me)
		}
	})

	t.Run("timeout_is_retryable_without_status", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, newKeys(t))
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // runs before the server's Close
		m.hook = func(w http.ResponseWriter, r *http.Request) bool {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return true
		}
		c := m.client(t, &http.Client{Timeout: 100 * time.Millisecond})
		me := mallError(t, second(c.Create(ctx, sampleOrder("AM20190312000005"))))
		if !me.Retryable || me.HTTPStatus != 0 || me.Err == nil {
			t.Errorf("error = %+v", me)
		}
	})

	t.Run("wrong_partner_key_is_refused_401_final", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, newKeys(t))
		c := m.client(t, nil)
		c.key = newKeys(t).partner
		me := mallError(t, second(c.Create(ctx, sampleOrder("AM20190312000006"))))
		if me.HTTPStatus != 401 || me.Code != "BAD_SIGNATURE" || me.Retryable {
			t.Errorf("error = %+v", me)
		}
	})

	t.Run("invalid_order_number_is_not_sent", func(t *testing.T) {
		t.Parallel()
		m := newFakeMall(t, newKeys(t))
		m.hook = func(http.ResponseWriter, *http.Request) bool { t.Error("request sent"); return false }
		me := mallError(t, second(m.client(t, nil).Create(ctx, sampleOrder("AM 2019/03"))))
		if me.Retryable || !errors.Is(me, orders.ErrInvalid) {
			t.Errorf("error = %+v", me)
		}
	})
}

// The answer's signature is what makes it the mall's: an answer that does not verify is
// never taken as success, whatever its status says.
func TestResponseSignature(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(m *fakeMall)
	}{
		{"signed_with_another_key", func(m *fakeMall) { m.signWith = newKeys(t).mall }},
		{"unsigned", func(m *fakeMall) { m.signWith = nil }},
		{"signed_by_the_partner_not_the_mall", func(m *fakeMall) { m.signWith = m.keys.partner }},
		{"timestamp_ten_minutes_old", func(m *fakeMall) { m.tsSkew = -10 * time.Minute }},
		{"body_altered_after_signing", func(m *fakeMall) {
			m.hook = func(w http.ResponseWriter, r *http.Request) bool {
				b := []byte(`{"code":"0000","message":"OK","data":{"mallOrderNo":"EVIL","partnerOrderNo":"AM20190312000007","status":"CREATED"}}`)
				ts := time.Now().UnixMilli()
				sig, _ := Sign(m.keys.mall, SigningString("RESPONSE", r.RequestURI, itoa(ts), "0123456789abcdef", b))
				w.Header().Set(HeaderTimestamp, itoa(ts))
				w.Header().Set(HeaderNonce, "0123456789abcdef")
				w.Header().Set(HeaderSignature, sig)
				w.WriteHeader(201)
				w.Write([]byte(strings.Replace(string(b), "EVIL", "EVIL2", 1)))
				return true
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newFakeMall(t, newKeys(t))
			tc.setup(m)
			res, err := m.client(t, nil).Create(ctx, sampleOrder("AM20190312000007"))
			if err == nil {
				t.Fatalf("unverified answer taken as success: %+v", res)
			}
			me := mallError(t, err)
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrStale) {
				t.Errorf("error = %v, want ErrBadSignature or ErrStale", err)
			}
			if !me.Retryable {
				t.Errorf("unverified answer should be retryable (create is idempotent): %+v", me)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newFakeMall(t, newKeys(t))
	c := m.client(t, nil)
	created, err := c.Create(ctx, sampleOrder("AM20190312000008"))
	if err != nil {
		t.Fatal(err)
	}
	m.ship("AM20190312000008")

	t.Run("known_order_has_its_lines", func(t *testing.T) {
		v, err := c.Query(ctx, "AM20190312000008")
		if err != nil {
			t.Fatal(err)
		}
		if v.MallOrderNo != created.MallOrderNo || v.OutOrderNo != "AM20190312000008" || v.Status != "SHIPPED" || len(v.Lines) != 2 {
			t.Fatalf("view = %+v", v)
		}
		if l := v.Lines[1]; l.LineNo != 2 || l.Shipped != 3 || l.Delivered != 0 || l.Refunded != money.Fen(0) || l.Status != "SHIPPED" {
			t.Errorf("line 2 = %+v", l)
		}
	})
	t.Run("unknown_order_is_not_found", func(t *testing.T) {
		me := mallError(t, second(c.Query(ctx, "AM20190312999999")))
		if !me.NotFound || me.HTTPStatus != 404 || me.Retryable || !errors.Is(me, orders.ErrNotFound) {
			t.Errorf("error = %+v", me)
		}
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newFakeMall(t, newKeys(t))
	c := m.client(t, nil)
	for _, no := range []string{"AM20190312000020", "AM20190312000021"} {
		if _, err := c.Create(ctx, sampleOrder(orders.OutOrderNo(no))); err != nil {
			t.Fatal(err)
		}
	}
	m.ship("AM20190312000021")

	t.Run("cancel_then_cancel_again_both_succeed", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if err := c.Cancel(ctx, "AM20190312000020", "branch withdrew the order"); err != nil {
				t.Fatalf("cancel %d: %v", i+1, err)
			}
		}
		v, err := c.Query(ctx, "AM20190312000020")
		if err != nil || v.Status != "CANCELLED" {
			t.Errorf("after cancel: %+v, %v", v, err)
		}
	})
	t.Run("shipped_order_is_already_shipped_final", func(t *testing.T) {
		me := mallError(t, c.Cancel(ctx, "AM20190312000021", "too late"))
		if me.HTTPStatus != 409 || me.Code != "ALREADY_SHIPPED" || me.Retryable {
			t.Errorf("error = %+v", me)
		}
	})
	t.Run("unknown_order_is_not_found", func(t *testing.T) {
		me := mallError(t, c.Cancel(ctx, "AM20190312999999", "x"))
		if !me.NotFound {
			t.Errorf("error = %+v", me)
		}
	})
}

// A 429 keeps its Retry-After whether or not the mall signed it (a wait can only delay
// aidmall), in seconds or as an HTTP date; a 503 carries one too; a final refusal has none.
func TestRetryAfter_from_any_answer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name      string
		status    int
		value     string
		signed    bool
		retryable bool
		min, max  time.Duration
	}{
		{"unsigned_429_seconds", 429, "120", false, true, 120 * time.Second, 120 * time.Second},
		{"signed_429_seconds", 429, "120", true, true, 120 * time.Second, 120 * time.Second},
		{"unsigned_429_http_date", 429, date, false, true, 85 * time.Second, 90 * time.Second},
		{"unsigned_503_seconds", 503, "600", false, true, 600 * time.Second, 600 * time.Second},
		{"unsigned_429_garbage_is_no_wait", 429, "soon", false, true, 0, 0},
		{"signed_400_is_final_without_wait", 400, "120", true, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newFakeMall(t, newKeys(t))
			m.hook = func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Retry-After", tc.value)
				if tc.signed {
					m.fail(w, r, tc.status, "X", "injected")
				} else {
					w.WriteHeader(tc.status)
					w.Write([]byte(`{"code":"X","message":"from a proxy"}`))
				}
				return true
			}
			me := mallError(t, second(m.client(t, nil).Create(ctx, sampleOrder("AM20190312000030"))))
			if me.Retryable != tc.retryable || me.RetryAfter < tc.min || me.RetryAfter > tc.max {
				t.Errorf("error = %+v; want retryable %v, RetryAfter in [%s, %s]", me, tc.retryable, tc.min, tc.max)
			}
		})
	}
}

// answerWith returns a fake-mall hook that answers every request with a signed error
// status/code and the extra header.
func answerWith(status int, code string, header map[string]string) func(m *fakeMall) func(http.ResponseWriter, *http.Request) bool {
	return func(m *fakeMall) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			for k, v := range header {
				w.Header().Set(k, v)
			}
			m.fail(w, r, status, code, "injected")
			return true
		}
	}
}

func second[T any](_ T, err error) error { return err }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
