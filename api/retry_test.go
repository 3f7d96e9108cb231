package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	. "aidmall/api"
	"aidmall/orders"
)

// POST /v1/orders/{id}/retry-dispatch: only the aid office, only an order whose dispatch
// gave up (problem+json otherwise), once; the order's JSON carries dispatch_failure and the
// status filter finds it. Responses are checked against the contract (openapi.yaml).
func TestRetryDispatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bj := time.FixedZone("CST", 8*3600)
	failed := h.placeAt("HQ", "HQ-F", time.Date(2019, 3, 1, 9, 0, 0, 0, bj), "13912345678")
	pending := h.placeAt("HQ", "HQ-P", time.Date(2019, 3, 1, 10, 0, 0, 0, bj), "13912345678")
	f := orders.DispatchFailureOf(mallCCB, &orders.MallError{Mall: mallCCB, HTTPStatus: 200, Code: "20000", SubCode: "SYSTEM_BUSY",
		Message: "busy", Retryable: true}, 25, h.clock.Now())
	if marked, err := h.orders.Service.MarkDispatchFailed(context.Background(), failed.ID, f); err != nil || !marked {
		t.Fatalf("MarkDispatchFailed: %v %v", marked, err)
	}
	path := func(id int64) string { return "/v1/orders/" + strconv.FormatInt(id, 10) + "/retry-dispatch" }

	rec := h.do(request{method: http.MethodGet, path: "/v1/orders/" + strconv.FormatInt(failed.ID, 10), key: "key-hq"})
	var got struct {
		Status          string `json:"status"`
		DispatchFailure *struct {
			Reason      string `json:"reason"`
			MallCode    string `json:"mall_code"`
			MallMessage string `json:"mall_message"`
			Attempts    int    `json:"attempts"`
			At          string `json:"at"`
		} `json:"dispatch_failure"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	if d := got.DispatchFailure; got.Status != "dispatch_failed" || d == nil || d.MallCode != "ccb" || d.Attempts != 25 ||
		d.MallMessage != "20000 SYSTEM_BUSY: busy" || d.Reason == "" || d.At != "2019-03-12T10:00:00+08:00" {
		t.Fatalf("order JSON %s", rec.Body)
	}
	rec = h.do(request{method: http.MethodGet, path: "/v1/orders?status=dispatch_failed", key: "key-office"})
	var list struct {
		Items []OrderJSON `json:"items"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list.Items) != 1 || list.Items[0].ID != failed.ID {
		t.Fatalf("?status=dispatch_failed: %d %s", rec.Code, rec.Body)
	}

	for _, tc := range []struct {
		name, key string
		id        int64
		status    int
		slug      string
	}{
		{"branch_staff_may_not", "key-hq", failed.ID, 403, "forbidden"},
		{"auditor_may_not", "key-auditor", failed.ID, 403, "forbidden"},
		{"pending_order_is_not_allowed", "key-office", pending.ID, 409, "not-allowed"},
		{"unknown_order", "key-office", 9999, 404, "not-found"},
	} {
		rec := h.do(request{method: http.MethodPost, path: path(tc.id), key: tc.key})
		if rec.Code != tc.status {
			t.Fatalf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
		if p := problemOf(t, rec); p.Type != ProblemTypeBase+tc.slug {
			t.Errorf("%s: type %q", tc.name, p.Type)
		}
	}

	rec = h.do(request{method: http.MethodPost, path: path(failed.ID), key: "key-office"})
	if rec.Code != 200 {
		t.Fatalf("retry: %d %s", rec.Code, rec.Body)
	}
	if o := decodeOrder(t, rec.Body.Bytes()); o.Status != orders.StatusPending || o.DispatchFailure != nil || o.OutOrderNo != failed.OutOrderNo {
		t.Errorf("after the retry: %s", rec.Body)
	}
	// The second retry finds it pending: problem+json, no second job.
	rec = h.do(request{method: http.MethodPost, path: path(failed.ID), key: "key-office"})
	if rec.Code != 409 {
		t.Fatalf("second retry: %d %s, want 409", rec.Code, rec.Body)
	}
	if p := problemOf(t, rec); p.Type != ProblemTypeBase+"not-allowed" {
		t.Errorf("second retry: type %q", p.Type)
	}
	if _, err := h.orders.Service.RetryDispatch(context.Background(), orders.Caller{KeyID: 3, Role: orders.RoleAidOffice}, failed.ID); !errors.Is(err, orders.ErrNotAllowed) {
		t.Errorf("retry of a pending order: %v", err)
	}
}
