package mallsim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/bizday"
)

// ccbCall is one hand-made gateway request.
type ccbCall struct {
	method, biz, notifyURL string
	appID, nonce           string
	at                     time.Time
	key                    *rsa.PrivateKey
	drop, extra            string // a parameter to leave out / to add ("name=value")
	tamper                 bool   // change biz_content after signing
}

// ccbSend posts c to the sim, checks the answer's signature with the mall key (every answer
// is signed, errors too) and returns code and sub_code.
func ccbSend(t *testing.T, s *Sim, hc *http.Client, c ccbCall) (string, string) {
	t.Helper()
	p := map[string]string{"app_id": c.appID, "method": c.method, "charset": "utf-8", "sign_type": "RSA2",
		"timestamp": c.at.In(bizday.Beijing).Format(ccb.TimeLayout), "nonce": c.nonce, "version": "1.0",
		"biz_content": c.biz, "notify_url": c.notifyURL}
	delete(p, c.drop)
	sign, err := ccb.Sign(c.key, ccb.SigningString(p, "sign"))
	if err != nil {
		t.Fatal(err)
	}
	p["sign"] = sign
	if c.tamper {
		p["biz_content"] = strings.Replace(p["biz_content"], "AM", "AN", 1)
	}
	form := url.Values{}
	for k, v := range p {
		if v != "" {
			form.Set(k, v)
		}
	}
	body := form.Encode()
	if c.extra != "" {
		body += "&" + c.extra
	}
	resp, err := hc.Post(s.CCBURL()+"/gateway", "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Code string
		Data json.RawMessage
		Sign string
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer %d: %v", resp.StatusCode, err)
	}
	if err := ccb.Verify(&keys(t).CCBMall.PublicKey, string(env.Data), env.Sign); err != nil {
		t.Fatalf("answer %s not signed by the mall: %v", env.Code, err)
	}
	var d struct {
		SubCode string `json:"sub_code"`
	}
	json.Unmarshal(env.Data, &d)
	return env.Code, d.SubCode
}

func TestCCBGateway_checks_signature_freshness_and_envelope(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	k := keys(t)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	now := time.Now()
	good := func(nonce string) ccbCall {
		return ccbCall{method: "mall.order.query", biz: `{"out_order_no":"AM1"}`, appID: DefaultCCBAppID,
			nonce: nonce, at: now, key: k.CCBPartner}
	}
	cases := []struct {
		name     string
		call     func(c *ccbCall)
		code     string
		sub      string
		thenSame string // the same request again (same nonce) answers this code
	}{
		{"valid_request_reaches_the_method", func(*ccbCall) {}, "40404", "ORDER_NOT_FOUND", "40003"},
		{"signed_by_another_key", func(c *ccbCall) { c.key = k.CCBMall }, "40002", "INVALID_SIGNATURE", "40002"},
		{"unknown_app_id", func(c *ccbCall) { c.appID = "2019031299999999" }, "40002", "UNKNOWN_APP_ID", ""},
		{"biz_content_changed_after_signing", func(c *ccbCall) { c.tamper = true }, "40002", "INVALID_SIGNATURE", ""},
		{"timestamp_11_minutes_old", func(c *ccbCall) { c.at = now.Add(-11 * time.Minute) }, "40003", "STALE_TIMESTAMP", ""},
		{"timestamp_9_minutes_ahead_is_fresh", func(c *ccbCall) { c.at = now.Add(9 * time.Minute) }, "40404", "ORDER_NOT_FOUND", ""},
		{"nonce_too_short", func(c *ccbCall) { c.nonce = "0123456789abcde" }, "40001", "INVALID_PARAMETER", ""},
		{"version_missing", func(c *ccbCall) { c.drop = "version" }, "40001", "MISSING_PARAMETER", ""},
		{"unknown_parameter", func(c *ccbCall) { c.extra = "foo=bar" }, "40001", "INVALID_PARAMETER", ""},
		{"notify_url_on_query", func(c *ccbCall) { c.notifyURL = "http://127.0.0.1/x" }, "40001", "INVALID_PARAMETER", ""},
		{"unknown_method", func(c *ccbCall) { c.method = "mall.order.delete" }, "40001", "INVALID_PARAMETER", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good("nonce-ccb-case-" + strconv.Itoa(100+i))
			tc.call(&c)
			if code, sub := ccbSend(t, r.sim, hc, c); code != tc.code || sub != tc.sub {
				t.Fatalf("got %s %s, want %s %s", code, sub, tc.code, tc.sub)
			}
			if tc.thenSame != "" {
				if code, _ := ccbSend(t, r.sim, hc, c); code != tc.thenSame {
					t.Fatalf("same request again: %s, want %s", code, tc.thenSame)
				}
			}
		})
	}
	t.Run("forged_request_does_not_use_up_the_nonce", func(t *testing.T) {
		c := good("nonce-ccb-forged-0001")
		c.key = k.CCBMall
		ccbSend(t, r.sim, hc, c)
		c.key = k.CCBPartner
		if code, _ := ccbSend(t, r.sim, hc, c); code != "40404" {
			t.Fatalf("genuine request after a forged one with its nonce: %s, want 40404", code)
		}
	})
}

// abcCall is one hand-made ABC request.
type abcCall struct {
	method, path, signPath string
	body                   []byte
	contentType            string
	appID, nonce           string
	at                     time.Time
	key                    *sm2.PrivateKey
	dropHeader             string
}

// abcSend sends c, checks the answer's signature (RESPONSE, the request path) and returns
// the HTTP status and the body's code.
func abcSend(t *testing.T, s *Sim, hc *http.Client, c abcCall) (int, string) {
	t.Helper()
	ts := strconv.FormatInt(c.at.UnixMilli(), 10)
	signPath := c.path
	if c.signPath != "" {
		signPath = c.signPath
	}
	sig, err := abc.Sign(c.key, abc.SigningString(c.method, signPath, ts, c.nonce, c.body))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(c.method, s.ABCURL()+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header.Set(abc.HeaderAppID, c.appID)
	req.Header.Set(abc.HeaderTimestamp, ts)
	req.Header.Set(abc.HeaderNonce, c.nonce)
	req.Header.Set(abc.HeaderSignature, sig)
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	req.Header.Del(c.dropHeader)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h := resp.Header
	if err := abc.Verify(&keys(t).ABCMall.PublicKey, abc.SigningString(abc.MethodResponse, c.path,
		h.Get(abc.HeaderTimestamp), h.Get(abc.HeaderNonce), body), h.Get(abc.HeaderSignature)); err != nil {
		t.Fatalf("answer %d %s not signed by the mall: %v", resp.StatusCode, body, err)
	}
	var env struct{ Code string }
	json.Unmarshal(body, &env)
	return resp.StatusCode, env.Code
}

func TestABCAPI_checks_signature_freshness_and_headers(t *testing.T) {
	t.Parallel()
	r := newRig(t, Options{}, nil)
	k := keys(t)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	now := time.Now()
	good := func(nonce string) abcCall {
		return abcCall{method: http.MethodGet, path: "/open/v2/orders/AM1", appID: DefaultABCAppID, nonce: nonce, at: now, key: k.ABCPartner}
	}
	cases := []struct {
		name     string
		call     func(c *abcCall)
		status   int
		code     string
		thenSame int
	}{
		{"valid_request_reaches_the_handler", func(*abcCall) {}, 404, "NOT_FOUND", 401},
		{"signed_by_another_key", func(c *abcCall) { c.key = k.ABCMall }, 401, "BAD_SIGNATURE", 401},
		{"unknown_app_id", func(c *abcCall) { c.appID = "ABC2019039999999999" }, 401, "BAD_SIGNATURE", 0},
		{"signed_for_another_path", func(c *abcCall) { c.signPath = "/open/v2/orders/AM2" }, 401, "BAD_SIGNATURE", 0},
		{"timestamp_6_minutes_old", func(c *abcCall) { c.at = now.Add(-6 * time.Minute) }, 401, "STALE_REQUEST", 0},
		{"timestamp_4_minutes_ahead_is_fresh", func(c *abcCall) { c.at = now.Add(4 * time.Minute) }, 404, "NOT_FOUND", 0},
		{"nonce_header_missing", func(c *abcCall) { c.dropHeader = abc.HeaderNonce }, 400, "BAD_REQUEST", 0},
		{"nonce_too_long", func(c *abcCall) { c.nonce = strings.Repeat("n", 33) }, 400, "BAD_REQUEST", 0},
		{"post_without_json_content_type", func(c *abcCall) {
			c.method, c.path, c.body, c.contentType = http.MethodPost, "/open/v2/orders/AM1/cancel", []byte(`{"reason":"x"}`), "text/plain"
		}, 400, "BAD_REQUEST", 0},
		{"get_with_a_body", func(c *abcCall) { c.body = []byte("{}") }, 400, "BAD_REQUEST", 0},
		{"unknown_endpoint", func(c *abcCall) { c.path = "/open/v2/refunds" }, 404, "NOT_FOUND", 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good("nonce-abc-case-" + strconv.Itoa(100+i))
			tc.call(&c)
			if st, code := abcSend(t, r.sim, hc, c); st != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s", st, code, tc.status, tc.code)
			}
			if tc.thenSame != 0 {
				if st, _ := abcSend(t, r.sim, hc, c); st != tc.thenSame {
					t.Fatalf("same request again: %d, want %d", st, tc.thenSame)
				}
			}
		})
	}
	t.Run("forged_request_does_not_use_up_the_nonce", func(t *testing.T) {
		c := good("nonce-abc-forged-0001")
		c.key = k.ABCMall
		abcSend(t, r.sim, hc, c)
		c.key = k.ABCPartner
		if st, _ := abcSend(t, r.sim, hc, c); st != 404 {
			t.Fatalf("genuine request after a forged one with its nonce: %d, want 404", st)
		}
	})
	t.Run("first_create_is_201_repeat_is_200", func(t *testing.T) {
		body := []byte(`{"partnerOrderNo":"AM-raw_1","buyerRef":"R1","buyerName":"工会","deliveryMode":"BULK",` +
			`"shipTo":{"name":"王*","phone":"138****0000","address":"北京"},` +
			`"items":[{"lineNo":1,"skuId":"ABC-T-APL","quantity":2,"unitPriceFen":6900}],"totalFen":13800,` +
			`"notifyUrl":"` + r.hook.url("abc", "raw") + `"}`)
		c := abcCall{method: http.MethodPost, path: "/open/v2/orders", body: body, contentType: "application/json",
			appID: DefaultABCAppID, nonce: "nonce-abc-create-01", at: now, key: k.ABCPartner}
		if st, code := abcSend(t, r.sim, hc, c); st != 201 || code != "0000" {
			t.Fatalf("first create: %d %s", st, code)
		}
		// Same content, keys in another order and spaced out: the same order.
		c.body = []byte(`{ "totalFen": 13800, "notifyUrl":"http://127.0.0.1:1/other", "items":[{"unitPriceFen":6900,"quantity":2,"skuId":"ABC-T-APL","lineNo":1}],` +
			`"deliveryMode":"BULK","buyerName":"工会","buyerRef":"R1","partnerOrderNo":"AM-raw_1",` +
			`"shipTo":{"address":"北京","phone":"138****0000","name":"王*"}}`)
		c.nonce = "nonce-abc-create-02"
		if st, code := abcSend(t, r.sim, hc, c); st != 200 || code != "0000" {
			t.Fatalf("repeat create: %d %s", st, code)
		}
		c.body = bytes.Replace(c.body, []byte(`"buyerRef":"R1"`), []byte(`"buyerRef":"R2"`), 1)
		c.nonce = "nonce-abc-create-03"
		if st, code := abcSend(t, r.sim, hc, c); st != 409 || code != "ORDER_CONFLICT" {
			t.Fatalf("other content: %d %s", st, code)
		}
		c.body = []byte(`{"partnerOrderNo":"AM-raw_2","unknownField":1}`)
		c.nonce = "nonce-abc-create-04"
		if st, code := abcSend(t, r.sim, hc, c); st != 400 || code != "BAD_REQUEST" {
			t.Fatalf("unknown field: %d %s", st, code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.sim.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
