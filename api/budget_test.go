package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"aidmall/orders"
)

func TestBudgets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	put := func(key, path, body string) *http.Response {
		rec := h.do(request{method: http.MethodPut, path: path, key: key, body: body, header: map[string]string{"Content-Type": "application/json"}})
		return rec.Result()
	}
	if r := put("key-hq", "/v1/budgets/HQ/2019", `{"amount":"1400.00"}`); r.StatusCode != http.StatusForbidden {
		t.Fatalf("branch staff PUT: %d", r.StatusCode)
	}
	if r := put("key-office", "/v1/budgets/HQ/2019", `{"amount":1400}`); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("amount as a number: %d", r.StatusCode)
	}
	if r := put("key-office", "/v1/budgets/NOPE/2019", `{"amount":"1.00"}`); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown branch: %d", r.StatusCode)
	}
	for range 2 { // idempotent
		rec := h.do(request{method: http.MethodPut, path: "/v1/budgets/HQ/2019", key: "key-office", body: `{"amount":"1400.00"}`})
		var b map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || rec.Code != http.StatusOK || b["budget"] != "1400.00" || b["remaining"] != "1400.00" {
			t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
		}
	}
	// 20 × 68.00 = 1360.00 fits; the next 1360.00 does not: 422 at /lines with 40.00 left.
	if rec := h.place("key-hq", "k1", orderBody(nil)); rec.Code != http.StatusCreated {
		t.Fatalf("first order: %d %s", rec.Code, rec.Body)
	}
	rec := h.place("key-hq", "k2", orderBody(map[string]any{"order_ref": "2019-HQ-0043"}))
	p := problemOf(t, rec)
	if rec.Code != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Pointer != "/lines" || !strings.Contains(p.Errors[0].Detail, "40.00 yuan remaining") {
		t.Fatalf("over budget: %d %s", rec.Code, rec.Body)
	}
	rec = h.do(request{method: http.MethodGet, path: "/v1/budgets?year=2019", key: "key-auditor"})
	var list struct {
		Year     int
		Branches []struct {
			BranchCode string  `json:"branch_code"`
			Budget     *string `json:"budget"`
			Used       string  `json:"used"`
			Remaining  *string `json:"remaining"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != http.StatusOK || list.Year != 2019 || len(list.Branches) == 0 {
		t.Fatalf("GET budgets: %d %s", rec.Code, rec.Body)
	}
	for _, b := range list.Branches {
		switch {
		case b.BranchCode == "HQ" && (b.Used != "1360.00" || *b.Remaining != "40.00"):
			t.Fatalf("HQ: %+v", b)
		case b.BranchCode != "HQ" && (b.Budget != nil || b.Remaining != nil):
			t.Fatalf("%s has no budget for 2019: %s", b.BranchCode, rec.Body)
		}
	}
	if rec := h.do(request{method: http.MethodGet, path: "/v1/budgets?year=2019", key: "key-hq"}); rec.Code != http.StatusForbidden {
		t.Fatalf("branch staff GET: %d", rec.Code)
	}
	if rec := h.do(request{method: http.MethodGet, path: "/v1/budgets", key: "key-office"}); rec.Code != http.StatusBadRequest {
		t.Fatalf("GET without year: %d", rec.Code)
	}
}

// A revoked or rotated-away key is refused at once with a 401 problem.
func TestRevokedKeyFailsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	token, k, err := h.store.CreateAPIKey(ctx, "temp", orders.RoleAuditor, "")
	if err != nil {
		t.Fatal(err)
	}
	get := func(tok string) int {
		return h.do(request{method: http.MethodGet, path: "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=county", key: tok}).Code
	}
	if c := get(token); c != http.StatusOK {
		t.Fatalf("new key: %d", c)
	}
	fresh, _, err := h.store.RotateAPIKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := h.do(request{method: http.MethodGet, path: "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=county", key: token})
	if problemOf(t, rec); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("old secret after rotate: %d", rec.Code)
	}
	if c := get(fresh); c != http.StatusOK {
		t.Fatalf("rotated key: %d", c)
	}
	if err := h.store.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	rec = h.do(request{method: http.MethodGet, path: "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=county", key: fresh})
	if problemOf(t, rec); rec.Code != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", rec.Code)
	}
}
