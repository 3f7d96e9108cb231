package api_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/adapters/mallsim"
	"aidmall/adapters/redisx"
	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/orders"
)

// These tests put the real mall drivers (adapters/ccb, adapters/abc) behind the webhook,
// over the real store, so that what a mall (or anyone posing as one) sends is answered as
// the malls' specs and issue 9 say: every refusal with the mall's own failure answer and a
// 4xx, nothing stored, a security log line and a counted reason; a 5xx only when aidmall
// could not record a genuine notification.

var (
	mallKeysOnce sync.Once
	mallKeys     *mallsim.Keys
	strangerKeys *mallsim.Keys
	mallKeysErr  error
)

// testMallKeys are the malls' and partner's keys (generated once), and a stranger's set
// signing as nobody the service trusts.
func testMallKeys(t testing.TB) (trusted, stranger *mallsim.Keys) {
	t.Helper()
	mallKeysOnce.Do(func() {
		if mallKeys, mallKeysErr = mallsim.NewKeys(); mallKeysErr == nil {
			strangerKeys, mallKeysErr = mallsim.NewKeys()
		}
	})
	if mallKeysErr != nil {
		t.Fatal(mallKeysErr)
	}
	return mallKeys, strangerKeys
}

const (
	ccbAppID = "2019031200000001"
	abcAppID = "ABC2019031200000001"
)

// realMallsHarness is a harness on db whose webhooks are the real CCB and ABC drivers,
// reading the harness's clock (ABC's nonces remembered in process).
func realMallsHarness(t testing.TB, db *sqlstore.DB) *harness {
	t.Helper()
	k, _ := testMallKeys(t)
	return newHarnessOn(t, db, func(c *Config) {
		cm, err := ccb.Connect(ccb.Config{BaseURL: "http://127.0.0.1:9", AppID: ccbAppID, PartnerKey: k.CCBPartner, MallKey: &k.CCBMall.PublicKey, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		am, err := abc.Connect(abc.Config{BaseURL: "http://127.0.0.1:9", AppID: abcAppID, PartnerKey: k.ABCPartner, MallKey: &k.ABCMall.PublicKey, Now: c.Now},
			redisx.NewMemoryNonceStore(c.Now))
		if err != nil {
			t.Fatal(err)
		}
		c.Webhooks = map[orders.Mall]MallWebhook{mallCCB: cm, mallABC: am}
	})
}

// ccbParams are a genuine order.delivered notification's parameters (sign aside).
func ccbParams() map[string]string {
	return map[string]string{"notify_id": "NT2019031200012301", "notify_type": "order.delivered",
		"notify_time": "2019-03-12 09:59:00", "occurred_at": "2019-03-12 09:58:00", "app_id": ccbAppID,
		"out_order_no": "AM20190312100000000001", "mall_order_no": "CCB20190312000123", "line_no": "1", "quantity": "20"}
}

// ccbBody signs params with key as the CCB mall does and encodes them as a form.
func ccbBody(t testing.TB, key *rsa.PrivateKey, params map[string]string) string {
	t.Helper()
	sig, err := ccb.Sign(key, ccb.SigningString(params, "sign", "sign_type"))
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{}
	for k, x := range params {
		v.Set(k, x)
	}
	v.Set("sign_type", ccb.SignType)
	v.Set("sign", sig)
	return v.Encode()
}

// abcBody is a genuine ITEM_DELIVERED notification body.
const abcBody = `{"eventId":"EVT-2019031200042-03","eventType":"ITEM_DELIVERED","occurredAt":"2019-03-12T09:58:00+08:00",` +
	`"partnerOrderNo":"AM20190312100000000042","mallOrderNo":"ABC8812019031200042","lineNo":1,"quantity":20,"refundFen":0,"attempt":1}`

// abcHeaders signs body for POST /webhooks/abc with key as the ABC mall does, at ts.
func abcHeaders(t testing.TB, key *sm2.PrivateKey, ts time.Time, nonce, body string) map[string]string {
	t.Helper()
	stamp := strconv.FormatInt(ts.UnixMilli(), 10)
	sig, err := abc.Sign(key, abc.SigningString(http.MethodPost, "/webhooks/abc", stamp, nonce, []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{abc.HeaderAppID: abcAppID, abc.HeaderTimestamp: stamp, abc.HeaderNonce: nonce, abc.HeaderSignature: sig}
}

// without is h less the headers named.
func without(h map[string]string, names ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for _, n := range names {
		out[n] = "" // harness.do deletes it
	}
	return out
}

// stored counts what the store holds of notifications: events and kept unreadable ones.
func stored(t testing.TB, st *sqlstore.Store) (events, kept int) {
	t.Helper()
	ctx := context.Background()
	if err := st.DB().GetContext(ctx, &events, `SELECT COUNT(*) FROM fulfilment_events`); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().GetContext(ctx, &kept, `SELECT COUNT(*) FROM unreadable_notifications`); err != nil {
		t.Fatal(err)
	}
	return events, kept
}

const (
	ccbFailure = "failure"
	abcBadReq  = `{"code":"BAD_REQUEST","message":`
	abcBadSig  = `{"code":"BAD_SIGNATURE","message":`
	abcStale   = `{"code":"STALE_REQUEST","message":`
)

// TestWebhookRefusals: what is not a genuine notification is refused with the mall's own
// failure answer and a 4xx by reason, on both databases, and leaves nothing stored but a
// security log line and a counted reason.
func TestWebhookRefusals(t *testing.T) {
	t.Parallel()
	k, stranger := testMallKeys(t)
	now := testNow
	genuineCCB := ccbBody(t, k.CCBMall, ccbParams())
	tests := []struct {
		name   string
		path   string
		body   func(t *testing.T) string
		header func(t *testing.T) map[string]string
		status int
		answer string // the whole body (CCB) or its start (ABC)
		reason string
		marker string // a part of the body that must not reach the log
	}{
		{name: "ccb_body_of_3MiB_is_413", path: "/webhooks/ccb", body: func(*testing.T) string { return "SECRETBODY" + strings.Repeat("a", 3<<20) },
			status: 413, answer: ccbFailure, reason: "too_large", marker: "SECRETBODY"},
		{name: "abc_body_of_5MiB_is_413", path: "/webhooks/abc", body: func(*testing.T) string { return `{"eventId":"SECRETBODY` + strings.Repeat("a", 5<<20) + `"}` },
			header: func(t *testing.T) map[string]string { return abcHeaders(t, k.ABCMall, now, "n-0000000000000001", "x") },
			status: 413, answer: abcBadReq, reason: "too_large", marker: "SECRETBODY"},
		{name: "abc_without_timestamp_is_400", path: "/webhooks/abc", body: func(*testing.T) string { return abcBody },
			header: func(t *testing.T) map[string]string {
				return without(abcHeaders(t, k.ABCMall, now, "n-0000000000000002", abcBody), abc.HeaderTimestamp)
			}, status: 400, answer: abcBadReq, reason: "malformed", marker: "ABC8812019031200042"},
		{name: "abc_without_signature_header_is_400", path: "/webhooks/abc", body: func(*testing.T) string { return abcBody },
			header: func(t *testing.T) map[string]string {
				return without(abcHeaders(t, k.ABCMall, now, "n-0000000000000003", abcBody), abc.HeaderSignature)
			}, status: 400, answer: abcBadReq, reason: "malformed", marker: "ABC8812019031200042"},
		{name: "abc_empty_object_without_headers_is_400", path: "/webhooks/abc", body: func(*testing.T) string { return `{}` },
			status: 400, answer: abcBadReq, reason: "malformed"},
		{name: "abc_empty_object_signed_is_400", path: "/webhooks/abc", body: func(*testing.T) string { return `{}` },
			header: func(t *testing.T) map[string]string { return abcHeaders(t, k.ABCMall, now, "n-0000000000000004", `{}`) },
			status: 400, answer: abcBadReq, reason: "malformed"},
		{name: "abc_escaped_nul_signed_is_400", path: "/webhooks/abc",
			body: func(*testing.T) string { return strings.Replace(abcBody, "ABC881", `ABC\u0000881`, 1) },
			header: func(t *testing.T) map[string]string {
				return abcHeaders(t, k.ABCMall, now, "n-0000000000000005", strings.Replace(abcBody, "ABC881", `ABC\u0000881`, 1))
			}, status: 400, answer: abcBadReq, reason: "malformed", marker: "ABC\\u0000881"},
		{name: "abc_gb18030_body_is_400", path: "/webhooks/abc",
			body: func(*testing.T) string { return strings.Replace(abcBody, "EVT-", "EVT-\xb2\xe2", 1) },
			header: func(t *testing.T) map[string]string {
				return abcHeaders(t, k.ABCMall, now, "n-0000000000000006", strings.Replace(abcBody, "EVT-", "EVT-\xb2\xe2", 1))
			}, status: 400, answer: abcBadReq, reason: "malformed"},
		{name: "abc_signed_by_a_stranger_is_401", path: "/webhooks/abc", body: func(*testing.T) string { return abcBody },
			header: func(t *testing.T) map[string]string {
				return abcHeaders(t, stranger.ABCMall, now, "n-0000000000000007", abcBody)
			},
			status: 401, answer: abcBadSig, reason: "bad_signature", marker: "ABC8812019031200042"},
		{name: "abc_ten_minutes_old_is_401", path: "/webhooks/abc", body: func(*testing.T) string { return abcBody },
			header: func(t *testing.T) map[string]string {
				return abcHeaders(t, k.ABCMall, now.Add(-10*time.Minute), "n-0000000000000008", abcBody)
			}, status: 401, answer: abcStale, reason: "stale", marker: "ABC8812019031200042"},
		{name: "ccb_empty_object_is_400", path: "/webhooks/ccb", body: func(*testing.T) string { return `{}` },
			status: 400, answer: ccbFailure, reason: "malformed"},
		{name: "ccb_raw_nul_is_400", path: "/webhooks/ccb", body: func(*testing.T) string { return strings.Replace(genuineCCB, "CCB2019", "CCB\x002019", 1) },
			status: 400, answer: ccbFailure, reason: "malformed", marker: "CCB\x002019"},
		{name: "ccb_percent_encoded_nul_is_400", path: "/webhooks/ccb", body: func(*testing.T) string { return strings.Replace(genuineCCB, "CCB2019", "CCB%002019", 1) },
			status: 400, answer: ccbFailure, reason: "malformed", marker: "CCB%002019"},
		{name: "ccb_not_utf8_is_400", path: "/webhooks/ccb", body: func(*testing.T) string { return strings.Replace(genuineCCB, "CCB2019", "CCB\xff2019", 1) },
			status: 400, answer: ccbFailure, reason: "malformed"},
		{name: "ccb_without_sign_is_400", path: "/webhooks/ccb", body: func(*testing.T) string {
			v, _ := url.ParseQuery(genuineCCB)
			v.Del("sign")
			return v.Encode()
		}, status: 400, answer: ccbFailure, reason: "malformed", marker: "CCB20190312000123"},
		{name: "ccb_signed_by_a_stranger_is_401", path: "/webhooks/ccb", body: func(t *testing.T) string { return ccbBody(t, stranger.CCBMall, ccbParams()) },
			status: 401, answer: ccbFailure, reason: "bad_signature", marker: "CCB20190312000123"},
		{name: "ccb_tampered_is_401", path: "/webhooks/ccb", body: func(*testing.T) string { return strings.Replace(genuineCCB, "quantity=20", "quantity=99", 1) },
			status: 401, answer: ccbFailure, reason: "bad_signature", marker: "CCB20190312000123"},
	}
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		h := realMallsHarness(t, db)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				body := tt.body(t)
				var header map[string]string
				if tt.header != nil {
					header = tt.header(t)
				}
				rec := h.do(request{method: http.MethodPost, path: tt.path, body: body, header: header})
				if rec.Code != tt.status || !strings.HasPrefix(rec.Body.String(), tt.answer) {
					t.Fatalf("answer %d %.200q, want %d %q…", rec.Code, rec.Body, tt.status, tt.answer)
				}
				if ev, kept := stored(t, h.store); ev != 0 || kept != 0 {
					t.Errorf("stored %d events and %d unreadable notifications, want nothing", ev, kept)
				}
				mall := tt.path[len("/webhooks/"):]
				logs := h.logs.String()
				var line string
				for _, l := range strings.Split(logs, "\n") {
					if strings.Contains(l, `"msg":"webhook notification refused"`) {
						line = l
					}
				}
				for _, w := range []string{`"log":"security"`, `"level":"WARN"`, `"reason":"` + tt.reason + `"`, `"mall":"` + mall + `"`, `"peer":"192.0.2.1"`, `"request_id":"`} {
					if !strings.Contains(line, w) {
						t.Errorf("case %d: the security log line lacks %s: %s", i, w, line)
					}
				}
				metrics := h.do(request{method: http.MethodGet, path: "/metrics"}).Body.String()
				want := `aidmall_webhook_refusals_total{mall="` + mall + `",reason="` + tt.reason + `"}`
				if !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s", want)
				}
				if tt.marker != "" && strings.Contains(logs, tt.marker) {
					t.Errorf("the log holds the body (%q)", tt.marker)
				}
			})
		}

		t.Run("genuine_notifications_are_recorded_and_acknowledged", func(t *testing.T) {
			rec := h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: genuineCCB})
			if rec.Code != 200 || rec.Body.String() != "success" {
				t.Fatalf("ccb answer %d %q", rec.Code, rec.Body)
			}
			rec = h.do(request{method: http.MethodPost, path: "/webhooks/abc", body: abcBody,
				header: abcHeaders(t, k.ABCMall, now, "n-0000000000000100", abcBody)})
			if rec.Code != 200 || rec.Body.String() != `{"code":"0000"}` {
				t.Fatalf("abc answer %d %q", rec.Code, rec.Body)
			}
			if ev, _ := stored(t, h.store); ev != 2 {
				t.Fatalf("%d events stored, want 2 (parked: no order has them yet)", ev)
			}
			// The same ABC notification again is a replay: refused, nothing more stored.
			rec = h.do(request{method: http.MethodPost, path: "/webhooks/abc", body: abcBody,
				header: abcHeaders(t, k.ABCMall, now, "n-0000000000000100", abcBody)})
			if rec.Code != 401 || !strings.HasPrefix(rec.Body.String(), abcStale) {
				t.Fatalf("replay answered %d %q", rec.Code, rec.Body)
			}
			if ev, _ := stored(t, h.store); ev != 2 {
				t.Fatalf("%d events stored after the replay, want 2", ev)
			}
		})
	})
}

// TestWebhookFailureToRecordIs5xx: a genuine notification that aidmall cannot record
// (the database is down) is the one case answered with a 5xx — the mall's failure answer,
// so that it sends the notification again.
func TestWebhookFailureToRecordIs5xx(t *testing.T) {
	t.Parallel()
	k, _ := testMallKeys(t)
	h := realMallsHarness(t, sqltest.SQLite(t))
	h.orders.applyErr = errors.New("database is down")
	rec := h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: ccbBody(t, k.CCBMall, ccbParams())})
	if rec.Code != 500 || rec.Body.String() != ccbFailure {
		t.Errorf("ccb answer %d %q, want 500 failure", rec.Code, rec.Body)
	}
	rec = h.do(request{method: http.MethodPost, path: "/webhooks/abc", body: abcBody,
		header: abcHeaders(t, k.ABCMall, testNow, "n-0000000000000200", abcBody)})
	if rec.Code != 500 || !strings.HasPrefix(rec.Body.String(), `{"code":"FAILED"`) {
		t.Errorf("abc answer %d %q, want 500 FAILED", rec.Code, rec.Body)
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, "database is down") {
		t.Errorf("no error logged with the cause: %s", logs)
	}
}

// endless is a body that never ends, counting what was read of it.
type endless struct {
	mu   sync.Mutex
	read int64
}

func (e *endless) Read(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range p {
		p[i] = 'a'
	}
	e.read += int64(len(p))
	return len(p), nil
}

// TestWebhookReadsAtMostTheLimitAndOneByte: a body of no declared length is read only up
// to the limit and one byte before it is refused as too large; a declared length over the
// limit is refused without reading.
func TestWebhookReadsAtMostTheLimitAndOneByte(t *testing.T) {
	t.Parallel()
	h := realMallsHarness(t, sqltest.SQLite(t))
	const limit = 1 << 20
	for _, declared := range []int64{-1, 3 << 20} {
		for _, mall := range []string{"ccb", "abc"} {
			body := &endless{}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/"+mall, io.NopCloser(body))
			req.ContentLength = declared
			rec := httptest.NewRecorder()
			h.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("%s, Content-Length %d: status %d, want 413", mall, declared, rec.Code)
			}
			switch {
			case declared < 0 && body.read > limit+1+32<<10:
				// io.ReadAll reads in chunks: what matters is that LimitReader stops it.
				t.Errorf("%s: read %d bytes of an endless body, want about %d", mall, body.read, limit+1)
			case declared > limit && body.read != 0:
				t.Errorf("%s: read %d bytes of a body declared over the limit, want none", mall, body.read)
			}
		}
	}
}

// FuzzWebhookEndToEnd posts arbitrary bodies and headers to both malls' webhooks through
// the real drivers and store. With sign set, the body is signed as the mall would (CCB:
// the fuzzed form's parameters, with our app id when it has none; ABC: the headers over
// the raw body, nonce fuzzed), so that genuine but strange notifications reach decoding
// and Apply too. Whatever comes in: never a 5xx; the answer is the mall's own (its ack
// with 200, else its failure answer); and a refusal stores nothing.
func FuzzWebhookEndToEnd(f *testing.F) {
	k, _ := testMallKeys(f)
	for _, seed := range []struct {
		abc  bool
		body string
		sign bool
		drop string
	}{
		{false, ccbBody(f, k.CCBMall, ccbParams()), false, ""},
		{false, "notify_id=N1&notify_type=order.shipped&out_order_no=AM1&mall_order_no=M1&line_no=1&quantity=2&occurred_at=2019-03-12+09%3A00%3A00", true, ""},
		{false, "notify_id=N%002&notify_type=order.accepted", true, ""},
		{false, `{}`, false, ""},
		{true, abcBody, true, ""},
		{true, abcBody, true, abc.HeaderTimestamp},
		{true, `{}`, true, ""},
		{true, `{"eventId":"E\u0000"}`, true, ""},
		{true, `{"eventId":"E","eventType":"ITEM_REFUNDED","occurredAt":"2019-03-12T09:00:00+08:00","partnerOrderNo":"AM1","mallOrderNo":"M","lineNo":1,"quantity":1,"refundFen":-5}`, true, ""},
		{true, "\xb2\xe2", false, abc.HeaderSignature},
	} {
		f.Add(seed.abc, []byte(seed.body), seed.sign, "n-0000000000000001", seed.drop)
	}
	h := realMallsHarness(f, sqltest.SQLite(f))
	f.Fuzz(func(t *testing.T, toABC bool, body []byte, sign bool, nonce, drop string) {
		path, header, ack := "/webhooks/ccb", map[string]string{}, "success"
		switch {
		case toABC:
			path, ack = "/webhooks/abc", `{"code":"0000"}`
			if sign {
				header = abcHeaders(t, k.ABCMall, h.clock.Now(), nonce, string(body))
			}
			if drop != "" {
				header[drop] = ""
			}
		case sign:
			if v, err := url.ParseQuery(string(body)); err == nil {
				params := map[string]string{"app_id": ccbAppID}
				for name, vs := range v {
					params[name] = vs[0]
				}
				body = []byte(ccbBody(t, k.CCBMall, params))
			}
		}
		eventsBefore, keptBefore := stored(t, h.store)
		rec := h.do(request{method: http.MethodPost, path: path, body: string(body), header: header})
		if rec.Code >= 500 {
			t.Fatalf("answer %d %q to %q", rec.Code, rec.Body, body)
		}
		if rec.Code == http.StatusOK {
			if rec.Body.String() != ack {
				t.Fatalf("200 with %q, want the mall's ack %q", rec.Body, ack)
			}
			return
		}
		if rec.Code < 400 || rec.Body.Len() == 0 || rec.Header().Get("Content-Type") == "" {
			t.Fatalf("refusal %d %q: want a 4xx with the mall's failure answer", rec.Code, rec.Body)
		}
		if ev, kept := stored(t, h.store); ev != eventsBefore || kept != keptBefore {
			t.Fatalf("refused with %d, yet stored %d events and %d unreadable (before: %d, %d)", rec.Code, ev, kept, eventsBefore, keptBefore)
		}
	})
}
