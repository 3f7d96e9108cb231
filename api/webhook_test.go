package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/orders"
)

func notification(t *testing.T, mall orders.Mall, eventID string) string {
	t.Helper()
	b, err := json.Marshal(orders.FulfilmentEvent{
		Mall: mall, EventID: orders.MallEventID(eventID), Type: orders.EventDelivered, OutOrderNo: "AM20190312100000000001",
		MallOrderNo: "CCB20190312000123", LineNo: 1, Quantity: 20,
		OccurredAt: time.Date(2019, 3, 15, 14, 22, 10, 0, time.FixedZone("CST", 8*3600)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWebhook: the path of a notification with no keeper of unreadable ones configured
// (TestWebhookUnreadable has one): anything not applied makes the mall retry.
func TestWebhook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		path      string
		signature string
		body      func(t *testing.T) string
		applyErr  error
		wantCode  int
		wantBody  string
		wantApply int
	}{
		{name: "when_signed_notification_expect_success_after_apply", path: "/webhooks/ccb", signature: "good",
			body: func(t *testing.T) string { return notification(t, mallCCB, "N1") }, wantCode: 200, wantBody: "success", wantApply: 1},
		{name: "when_bad_signature_expect_nack_and_nothing_applied", path: "/webhooks/ccb", signature: "forged",
			body: func(t *testing.T) string { return notification(t, mallCCB, "N1") }, wantCode: 200, wantBody: "fail", wantApply: 0},
		{name: "when_body_malformed_expect_nack_and_nothing_applied", path: "/webhooks/ccb", signature: "good",
			body: func(*testing.T) string { return "notify_id=N1&" }, wantCode: 200, wantBody: "fail", wantApply: 0},
		{name: "when_apply_fails_expect_nack_so_the_mall_retries", path: "/webhooks/ccb", signature: "good",
			body:     func(t *testing.T) string { return notification(t, mallCCB, "N1") },
			applyErr: errors.New("database is locked"), wantCode: 200, wantBody: "fail", wantApply: 1},
		{name: "when_event_invalid_expect_nack", path: "/webhooks/ccb", signature: "good",
			body: func(t *testing.T) string {
				return strings.Replace(notification(t, mallCCB, "N1"), `"quantity":20`, `"quantity":0`, 1)
			}, wantCode: 200, wantBody: "fail", wantApply: 1},
		{name: "when_verifier_returns_another_malls_event_expect_nack", path: "/webhooks/abc", signature: "good",
			body: func(t *testing.T) string { return notification(t, mallCCB, "N1") }, wantCode: 200, wantBody: "fail", wantApply: 0},
		{name: "when_body_over_1MiB_expect_nack_without_parsing", path: "/webhooks/ccb", signature: "good",
			body: func(*testing.T) string { return strings.Repeat("a", 1<<20+1) }, wantCode: 200, wantBody: "fail", wantApply: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) { c.Unreadable = nil })
			h.orders.applyErr = tt.applyErr
			body := tt.body(t)
			rec := h.do(request{method: http.MethodPost, path: tt.path, body: body,
				header: map[string]string{"X-Test-Signature": tt.signature}})
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Fatalf("answer %d %q, want %d %q", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if _, apply := h.orders.counts(); apply != tt.wantApply {
				t.Errorf("Apply called %d times, want %d", apply, tt.wantApply)
			}
		})
	}

	t.Run("when_verifier_runs_expect_the_exact_raw_body", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		body := notification(t, mallCCB, "N1") + "  \n" // trailing bytes a re-encoding would lose
		h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: body, header: map[string]string{"X-Test-Signature": "good"}})
		wh := h.webhooks[mallCCB]
		if wh.parsed() != 1 || !bytes.Equal(wh.bodies[0], []byte(body)) {
			t.Errorf("verifier saw %q, want %q", wh.bodies, body)
		}
	})

	t.Run("when_the_mall_hangs_up_mid_request_expect_the_notification_recorded_all_the_same", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// Its context is cancelled as a hang-up cancels it: the record must still be made
		// (and stay made), so the mall's next delivery finds it applied.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/webhooks/ccb", strings.NewReader(notification(t, mallCCB, "N1")))
		req.Header.Set("X-Test-Signature", "good")
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != "success" {
			t.Fatalf("answer %d %q, want 200 success: a verified notification is recorded even when the mall has gone", rec.Code, rec.Body)
		}
		if _, apply := h.orders.counts(); apply != 1 {
			t.Errorf("Apply called %d times, want 1", apply)
		}
	})

	t.Run("when_mall_unknown_expect_404_problem", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.do(request{method: http.MethodPost, path: "/webhooks/icbc", body: "x"})
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d", rec.Code)
		}
		problemOf(t, rec)
	})

	t.Run("when_rejected_expect_warn_log_with_reason", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: notification(t, mallCCB, "SECRET-EVENT-BODY"),
			header: map[string]string{"X-Test-Signature": "forged"}})
		logs := h.logs.String()
		if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "signature does not verify") {
			t.Errorf("no warn with the reason: %s", logs)
		}
		if strings.Contains(logs, "SECRET-EVENT-BODY") {
			t.Errorf("the log holds the body: %s", logs)
		}
	})

	t.Run("when_same_event_twice_expect_success_both_times_and_duplicate_counted", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for i := range 2 {
			rec := h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: notification(t, mallCCB, "N1"),
				header: map[string]string{"X-Test-Signature": "good"}})
			if rec.Body.String() != "success" {
				t.Fatalf("delivery %d: %q", i+1, rec.Body)
			}
		}
		metrics := h.do(request{method: http.MethodGet, path: "/metrics"}).Body.String()
		for _, want := range []string{
			`aidmall_webhook_events_total{mall="ccb",result="parked"} 1`,
			`aidmall_webhook_events_total{mall="ccb",result="duplicate"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// failingKeeper is the store's KeepUnreadable failing with err (a fault the real store
// cannot be made to show on demand).
type failingKeeper struct{ err error }

func (f failingKeeper) KeepUnreadable(context.Context, orders.Mall, []byte, string) error {
	return f.err
}

// TestWebhookUnreadable: a notification the mall signed but that cannot be used is kept
// and acknowledged (a retry would fail the same way and the mall would give up, losing
// it); one that does not verify, or a passing failure, still makes the mall retry.
func TestWebhookUnreadable(t *testing.T) {
	t.Parallel()
	// A body the fake verifier cannot read (quantity as text), and one it reads into an
	// invalid event (quantity 0); the mall order no, which is never logged, marks the body.
	unreadable := `{"mall":"ccb","event_id":"N9","type":"delivered","mall_order_no":"SECRET-BODY","quantity":"twenty"}`
	invalid := func(t *testing.T) string {
		b := strings.Replace(notification(t, mallCCB, "N8"), `"quantity":20`, `"quantity":0`, 1)
		return strings.Replace(b, `"mall_order_no":"CCB20190312000123"`, `"mall_order_no":"SECRET-BODY"`, 1)
	}
	tests := []struct {
		name       string
		signature  string
		body       func(t *testing.T) string
		keepErr    error
		applyErr   error
		wantBody   string
		wantKept   bool
		wantReason string // a fragment of the reason kept
		wantResult string // aidmall_webhook_events_total result counted once
	}{
		{name: "verified_but_unreadable_is_kept_and_acknowledged", signature: "good",
			body: func(*testing.T) string { return unreadable }, wantBody: "success", wantKept: true,
			wantReason: "unreadable event", wantResult: "kept_unreadable"},
		{name: "verified_but_invalid_event_is_kept_and_acknowledged", signature: "good", body: invalid,
			wantBody: "success", wantKept: true, wantReason: "positive quantity", wantResult: "kept_unreadable"},
		{name: "unreadable_not_kept_is_refused_so_the_mall_retries", signature: "good",
			body: func(*testing.T) string { return unreadable }, keepErr: errors.New("database is locked"),
			wantBody: "fail", wantResult: "failed"},
		{name: "invalid_event_not_kept_is_refused_so_the_mall_retries", signature: "good", body: invalid,
			keepErr: errors.New("database is locked"), wantBody: "fail", wantResult: "failed"},
		{name: "bad_signature_is_refused_and_nothing_kept", signature: "forged",
			body: func(*testing.T) string { return unreadable }, wantBody: "fail", wantResult: "rejected"},
		{name: "apply_failure_that_a_retry_may_cure_is_refused_and_nothing_kept", signature: "good",
			body:     func(t *testing.T) string { return notification(t, mallCCB, "N1") },
			applyErr: errors.New("database is locked"), wantBody: "fail", wantResult: "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) {
				if tt.keepErr != nil {
					c.Unreadable = failingKeeper{tt.keepErr}
				}
			})
			h.orders.applyErr = tt.applyErr
			body := tt.body(t)
			if tt.applyErr == nil && !strings.Contains(body, "SECRET-BODY") {
				t.Fatalf("test setup: body %s is not marked", body)
			}
			rec := h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: body,
				header: map[string]string{"X-Test-Signature": tt.signature}})
			if rec.Code != http.StatusOK || rec.Body.String() != tt.wantBody {
				t.Fatalf("answer %d %q, want 200 %q", rec.Code, rec.Body, tt.wantBody)
			}
			kept := sqltest.KeptUnreadable(t, h.store)
			switch {
			case !tt.wantKept && len(kept) != 0:
				t.Fatalf("kept %d notifications, want none", len(kept))
			case tt.wantKept && len(kept) != 1:
				t.Fatalf("kept %d notifications, want 1", len(kept))
			case tt.wantKept:
				k := kept[0]
				if k.Mall != string(mallCCB) || !bytes.Equal(k.Body, []byte(body)) || !strings.Contains(k.Reason, tt.wantReason) {
					t.Errorf("kept %s %q (reason %q), want ccb, the raw body, a reason saying %q", k.Mall, k.Body, k.Reason, tt.wantReason)
				}
			}
			metrics := h.do(request{method: http.MethodGet, path: "/metrics"}).Body.String()
			if want := `aidmall_webhook_events_total{mall="ccb",result="` + tt.wantResult + `"} 1`; !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
			if logs := h.logs.String(); strings.Contains(logs, "SECRET-BODY") {
				t.Errorf("the log holds the body: %s", logs)
			}
		})
	}

	t.Run("when_kept_expect_a_warning_with_the_reason", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: unreadable,
			header: map[string]string{"X-Test-Signature": "good"}})
		logs := h.logs.String()
		if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "unreadable webhook notification kept") ||
			!strings.Contains(logs, "unreadable event") {
			t.Errorf("no warning with the reason: %s", logs)
		}
	})

	t.Run("when_no_keeper_is_configured_expect_the_mall_to_retry", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) { c.Unreadable = nil })
		rec := h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: unreadable,
			header: map[string]string{"X-Test-Signature": "good"}})
		if rec.Body.String() != "fail" {
			t.Fatalf("answer %q, want fail", rec.Body)
		}
	})
}

// FuzzWebhookNeverPanics posts arbitrary bodies to the CCB webhook: whatever comes in, the
// answer is the mall's own (success or fail), never a 500.
func FuzzWebhookNeverPanics(f *testing.F) {
	f.Add([]byte(`{"mall":"ccb","event_id":"N1","type":"delivered","out_order_no":"A","line_no":1,"quantity":1,"occurred_at":"2019-03-05T14:22:10+08:00"}`), "good")
	f.Add([]byte("notify_id=1&sign=x"), "forged")
	f.Add([]byte(`{"mall":"ccb","event_id":"N1","type":"refunded","refund_amount":12}`), "good")
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		rec := h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: string(body),
			header: map[string]string{"X-Test-Signature": sig}})
		if rec.Code != http.StatusOK || (rec.Body.String() != "success" && rec.Body.String() != "fail") {
			t.Fatalf("answer %d %q", rec.Code, rec.Body)
		}
	})
}

// An event id the mall sends again with other content is acknowledged (nothing it sends
// can change the record), not applied, counted apart and logged as a warning naming what
// differs, for an operator.
func TestWebhookEventIdAgainWithOtherContent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var ev orders.FulfilmentEvent
	if err := json.Unmarshal([]byte(notification(t, mallCCB, "N1")), &ev); err != nil {
		t.Fatal(err)
	}
	for i, qty := range []int64{20, 20, 5} {
		ev.Quantity = qty
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		rec := h.do(request{method: http.MethodPost, path: "/webhooks/ccb", body: string(b), header: map[string]string{"X-Test-Signature": "good"}})
		if rec.Body.String() != "success" {
			t.Fatalf("delivery %d: %q", i+1, rec.Body)
		}
	}
	metrics := h.do(request{method: http.MethodGet, path: "/metrics"}).Body.String()
	for _, want := range []string{
		`aidmall_webhook_events_total{mall="ccb",result="duplicate"} 1`,
		`aidmall_webhook_events_total{mall="ccb",result="duplicate_differs"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "quantity 5 (recorded: 20)") {
		t.Errorf("no warning naming the difference: %s", logs)
	}
}
