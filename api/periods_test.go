package api_test

import (
	"net/http"
	"strings"
	"testing"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/orders"
)

// testPeriods serves api.Periods from the orders service and the store, as cmd wires it.
type testPeriods struct {
	*orders.Service
	*sqlstore.Store
}

func TestPeriodsAndHouseholdDetailAreTheAidOfficesOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sqltest.ImportBundle(t, h.store, sqltest.ExampleBundle())
	json := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name       string
		r          request
		want       int
		wantInBody string
	}{
		{"branch_staff_cannot_close", request{method: http.MethodPost, path: "/v1/periods/close", key: "key-hq", body: `{"period":"2018-12","reason":"x"}`, header: json}, http.StatusForbidden, ""},
		{"auditor_cannot_close", request{method: http.MethodPost, path: "/v1/periods/close", key: "key-auditor", body: `{"period":"2018-12","reason":"x"}`, header: json}, http.StatusForbidden, ""},
		{"a_period_not_ended_is_refused", request{method: http.MethodPost, path: "/v1/periods/close", key: "key-office", body: `{"period":"2019","reason":"letter"}`, header: json}, http.StatusConflict, ""},
		{"a_reason_is_required", request{method: http.MethodPost, path: "/v1/periods/close", key: "key-office", body: `{"period":"2018-12","reason":" "}`, header: json}, http.StatusUnprocessableEntity, ""},
		{"office_closes_a_month", request{method: http.MethodPost, path: "/v1/periods/close", key: "key-office", body: `{"period":"2018-12","reason":"December return"}`, header: json}, http.StatusOK, `"closed_by":"aid office"`},
		{"auditor_lists_periods", request{method: http.MethodGet, path: "/v1/periods", key: "key-auditor"}, http.StatusOK, `"reason":"December return"`},
		{"only_the_latest_reopens", request{method: http.MethodPost, path: "/v1/periods/reopen", key: "key-office", body: `{"period":"2018-11","reason":"x"}`, header: json}, http.StatusConflict, ""},
		{"auditor_gets_no_household_report", request{method: http.MethodGet, path: "/v1/reports/households?from=2019-01-01&to=2019-12-31", key: "key-auditor"}, http.StatusForbidden, ""},
		{"branch_gets_no_household_report", request{method: http.MethodGet, path: "/v1/reports/households?from=2019-01-01&to=2019-12-31", key: "key-hq"}, http.StatusForbidden, ""},
		{"office_gets_the_household_report", request{method: http.MethodGet, path: "/v1/reports/households?from=2019-01-01&to=2019-12-31", key: "key-office"}, http.StatusOK, `"totals"`},
		{"auditor_gets_no_provenance", request{method: http.MethodGet, path: "/v1/households/06300101001/provenance?from=2019-01-01&to=2019-12-31", key: "key-auditor"}, http.StatusForbidden, ""},
		{"office_gets_provenance_masked", request{method: http.MethodGet, path: "/v1/households/06300101001/provenance?from=2019-01-01&to=2019-12-31", key: "key-office"}, http.StatusOK, `"id_number":"610630********4514"`},
		{"provenance_of_an_unknown_household_is_404", request{method: http.MethodGet, path: "/v1/households/99999999999/provenance?from=2019-01-01&to=2019-12-31", key: "key-office"}, http.StatusNotFound, ""},
		{"office_reopens_the_latest", request{method: http.MethodPost, path: "/v1/periods/reopen", key: "key-office", body: `{"period":"2018-12","reason":"late refund"}`, header: json}, http.StatusOK, `"reopen_reason":"late refund"`},
	}
	for _, tc := range cases { // in order: each step builds on the one before
		rec := h.do(tc.r)
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.wantInBody) {
			t.Fatalf("%s: status %d, want %d with %q: %s", tc.name, rec.Code, tc.want, tc.wantInBody, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "610630197302274514") {
			t.Fatalf("%s: an ID number in clear: %s", tc.name, rec.Body)
		}
	}
}
