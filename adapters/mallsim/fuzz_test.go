package mallsim

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/bizday"
	spec "aidmall/internal/wire"
	"aidmall/orders"
)

// fuzzClock is the mall clock of the fuzz targets, so signed seeds stay fresh forever.
var fuzzClock = time.Date(2019, 3, 12, 10, 0, 0, 0, bizday.Beijing)

// bareMall is a mall with the test catalogue and keys, no servers.
func bareMall(t testing.TB, kind orders.Mall) *mall {
	t.Helper()
	s := &Sim{opt: Options{Keys: keys(t), CCBAppID: DefaultCCBAppID, ABCAppID: DefaultABCAppID, Catalogue: testCatalogue,
		Now: func() time.Time { return fuzzClock }}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m, err := newMall(s, kind)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkContent holds what an accepted create must satisfy: every item listed at its price,
// the total the sum, line numbers unique.
func checkContent(t *testing.T, m *mall, c content) {
	seen := map[int]bool{}
	for _, l := range c.Lines {
		if p, ok := m.listed[l.ItemID]; !ok || p != l.UnitPrice {
			t.Fatalf("accepted line %+v not at its listed price", l)
		}
		if seen[l.LineNo] || l.Quantity <= 0 {
			t.Fatalf("accepted line %+v: repeated number or no quantity", l)
		}
		seen[l.LineNo] = true
	}
	if c.sum() != c.Total {
		t.Fatalf("accepted total %s, lines add up to %s", c.Total, c.sum())
	}
}

func FuzzParseCCBCreate(f *testing.F) {
	f.Add(`{"out_order_no":"AM1","buyer_ref":"R1","buyer_name":"工会","delivery_mode":"bulk","ship_to":{"name":"王*","phone":"138","address":"北京"},"lines":[{"line_no":1,"item_id":"CCB-T-APL","quantity":20,"unit_price":"68.00"}],"total_amount":"1360.00"}`)
	f.Add(`{"out_order_no":"AM2","buyer_ref":"R2","buyer_name":"工会","delivery_mode":"per_recipient","lines":[{"line_no":1,"item_id":"CCB-T-PEP","quantity":3,"unit_price":"42.00","recipients":[{"name":"a","phone":"1","address":"x","quantity":1},{"name":"b","phone":"2","address":"y","quantity":2}]}],"total_amount":"126.00"}`)
	f.Add(`{"out_order_no":"AM3","lines":[]}`)
	f.Add(`{"out_order_no":"AM1"} {}`)
	f.Add(`not json`)
	m := bareMall(f, ccb.Code)
	f.Fuzz(func(t *testing.T, biz string) {
		c, err := m.parseCCBCreate(biz)
		if err != nil {
			if err.code == "" || err.sub == "" {
				t.Fatalf("refusal without code: %+v", err)
			}
			return
		}
		checkContent(t, m, c)
		if !ccbOutOrderNoRE.MatchString(c.OutOrderNo) {
			t.Fatalf("accepted out_order_no %q", c.OutOrderNo)
		}
	})
}

func FuzzParseABCCreate(f *testing.F) {
	f.Add([]byte(`{"partnerOrderNo":"AM-1","buyerRef":"R1","buyerName":"工会","deliveryMode":"BULK","shipTo":{"name":"王*","phone":"138","address":"北京"},"items":[{"lineNo":1,"skuId":"ABC-T-APL","quantity":20,"unitPriceFen":6900}],"totalFen":138000,"notifyUrl":"http://127.0.0.1/w"}`))
	f.Add([]byte(`{"partnerOrderNo":"AM_2","buyerRef":"R2","buyerName":"工会","deliveryMode":"PER_RECIPIENT","items":[{"lineNo":1,"skuId":"ABC-T-PEP","quantity":1,"unitPriceFen":4300,"recipients":[{"name":"a","phone":"1","address":"x","quantity":1}]}],"totalFen":4300,"notifyUrl":"https://x/w"}`))
	f.Add([]byte(`{"partnerOrderNo":"AM-1","items":[{"lineNo":1,"quantity":1.5}]}`))
	f.Add([]byte(`[]`))
	m := bareMall(f, abc.Code)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, notifyURL, bad := m.parseABCCreate(body)
		if bad != nil {
			if bad.status != 400 && bad.status != 422 {
				t.Fatalf("refusal with status %d", bad.status)
			}
			return
		}
		checkContent(t, m, c)
		if !abcOrderNoRE.MatchString(c.OutOrderNo) || !spec.AbsoluteHTTPURL(notifyURL) {
			t.Fatalf("accepted partnerOrderNo %q notifyUrl %q", c.OutOrderNo, notifyURL)
		}
	})
}

// signedCCBForm is a valid gateway body at fuzzClock.
func signedCCBForm(t testing.TB, nonce string) string {
	p := map[string]string{"app_id": DefaultCCBAppID, "method": "mall.order.query", "charset": "utf-8", "sign_type": "RSA2",
		"timestamp": fuzzClock.Format(ccb.TimeLayout), "nonce": nonce, "version": "1.0", "biz_content": `{"out_order_no":"AM1"}`}
	sign, err := ccb.Sign(keys(t).CCBPartner, ccb.SigningString(p, "sign"))
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{}
	for k, s := range p {
		v.Set(k, s)
	}
	v.Set("sign", sign)
	return v.Encode()
}

// An accepted gateway request verifies under the partner key, and the same bytes again are
// refused as a replay.
func FuzzVerifyCCBRequest(f *testing.F) {
	f.Add(signedCCBForm(f, "fuzz-nonce-000001"))
	f.Add(signedCCBForm(f, "fuzz-nonce-000002") + "&version=1.0")
	f.Add(strings.Replace(signedCCBForm(f, "fuzz-nonce-000003"), "AM1", "AM2", 1))
	f.Add("app_id=1&sign=x")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, body string) {
		m := bareMall(t, ccb.Code)
		params, err := m.verifyCCBRequest("application/x-www-form-urlencoded", []byte(body))
		if err != nil {
			return
		}
		if e := ccb.Verify(&keys(t).CCBPartner.PublicKey, ccb.SigningString(params, "sign"), params["sign"]); e != nil {
			t.Fatalf("accepted a request whose signature does not verify: %v", e)
		}
		if _, again := m.verifyCCBRequest("application/x-www-form-urlencoded", []byte(body)); again == nil || again.sub != "NONCE_REUSED" {
			t.Fatalf("replayed request: %v, want NONCE_REUSED", again)
		}
	})
}

// An accepted ABC request verifies under the partner key over what was sent, and the same
// request again is refused as a replay.
func FuzzVerifyABCRequest(f *testing.F) {
	k := keys(f)
	ts := strconv.FormatInt(fuzzClock.UnixMilli(), 10)
	for i, c := range []struct{ method, path, body string }{
		{"GET", "/open/v2/orders/AM1", ""},
		{"POST", "/open/v2/orders/AM1/cancel", `{"reason":"x"}`},
		{"GET", "/open/v2/orders/AM1?x=1", ""},
	} {
		nonce := "fuzz-abc-nonce-00" + strconv.Itoa(i)
		sig, err := abc.Sign(k.ABCPartner, abc.SigningString(c.method, c.path, ts, nonce, []byte(c.body)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.method, c.path, DefaultABCAppID, ts, nonce, sig, []byte(c.body))
	}
	f.Add("GET", "/open/v2/orders/AM1", DefaultABCAppID, "0", "short", "AAAA", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, appID, ts, nonce, sig string, body []byte) {
		if method != "GET" && method != "POST" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		m := bareMall(t, abc.Code)
		req := func() *http.Request {
			r, err := http.NewRequest(method, "http://mall"+path, strings.NewReader(string(body)))
			if err != nil {
				t.Skip(err)
			}
			r.RequestURI = path // as a server sets it: the request target as sent
			r.Header.Set(abc.HeaderAppID, appID)
			r.Header.Set(abc.HeaderTimestamp, ts)
			r.Header.Set(abc.HeaderNonce, nonce)
			r.Header.Set(abc.HeaderSignature, sig)
			r.Header.Set("Content-Type", "application/json")
			return r
		}
		r := req()
		got, rep, ok := m.verifyABCRequest(httptest.NewRecorder(), r)
		if !ok {
			var env struct{ Code string }
			if json.Unmarshal(rep.body, &env) != nil || env.Code == "" || rep.status < 400 {
				t.Fatalf("refusal %d %q without a code", rep.status, rep.body)
			}
			return
		}
		if e := abc.Verify(&k.ABCPartner.PublicKey, abc.SigningString(method, r.RequestURI, ts, nonce, got), sig); e != nil {
			t.Fatalf("accepted a request whose signature does not verify: %v", e)
		}
		if _, rep, ok := m.verifyABCRequest(httptest.NewRecorder(), req()); ok || rep.status != 401 {
			t.Fatalf("replayed request accepted or not 401: %d", rep.status)
		}
	})
}

// Whatever the bundle holds, LoadScript either refuses it or assigns every event to the
// order named by its out_order_no, in replay order.
func FuzzLoadScript(f *testing.F) {
	f.Add("order_ref,mall,out_order_no\nR1,abc,AM1\n",
		`{"eventId":"E1","eventType":"ORDER_CONFIRMED","occurredAt":"2019-03-01T10:00:00+08:00","partnerOrderNo":"AM1","mallOrderNo":"ABC1","lineNo":null,"quantity":null,"refundFen":0}`+"\n"+
			`{"eventId":"E0","eventType":"ITEM_SHIPPED","occurredAt":"2019-03-01T09:00:00+08:00","partnerOrderNo":"AM1","mallOrderNo":"ABC1","lineNo":1,"quantity":3,"refundFen":0}`)
	f.Add("order_ref,mall,out_order_no\nR1,abc,AM1\nR1,abc,AM2\n", "")
	f.Add("mall\nabc\n", "{}")
	f.Fuzz(func(t *testing.T, ordersCSV, jsonl string) {
		s, err := LoadScript(fstest.MapFS{"orders.csv": {Data: []byte(ordersCSV)}, "statement-abc.jsonl": {Data: []byte(jsonl)}})
		if err != nil {
			return
		}
		for _, ref := range s.OrderRefs(abc.Code) {
			evs, _ := s.Events(abc.Code, ref)
			for i, e := range evs {
				if e.Mall != abc.Code || e.Validate() != nil {
					t.Fatalf("scripted event %+v", e)
				}
				if i > 0 && eventLess(e, evs[i-1]) {
					t.Fatalf("order %s out of replay order", ref)
				}
			}
		}
	})
}
