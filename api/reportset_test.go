package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/orders"
)

func TestReportSetEndpoints(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	seed := newHarnessOn(t, db)
	sqltest.ImportBundle(t, seed.store, sqltest.ExampleBundle())
	seed.advance(seed.placeAt("HQ", "2019-HQ-R1", time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing), "13912345678"), orders.StatusDelivered)
	tests := []struct {
		name, method, path, key, body string
		wantStatus                    int
		wantParam, wantBody           string
	}{
		{"indicators_for_auditor", "GET", "/v1/reports/indicators?year=2019", "key-auditor", "", 200, "", `"purchased_amount"`},
		{"indicators_csv", "GET", "/v1/reports/indicators?year=2019&format=csv", "key-office", "", 200, "", "\uFEFF工会单位,名称,购买金额,帮助销售金额"},
		{"indicators_csv_english_headers", "GET", "/v1/reports/indicators?year=2019&format=csv&headers=en", "key-office", "", 200, "", "branch,label,purchased_amount"},
		{"indicators_bad_format", "GET", "/v1/reports/indicators?year=2019&format=pdf", "key-office", "", 400, "format", ""},
		{"indicators_charset_for_json", "GET", "/v1/reports/indicators?year=2019&charset=gb18030", "key-office", "", 400, "charset", ""},
		{"indicators_without_year", "GET", "/v1/reports/indicators", "key-office", "", 400, "year", ""},
		{"indicators_bad_year", "GET", "/v1/reports/indicators?year=19", "key-office", "", 400, "year", ""},
		{"indicators_year_not_covered", "GET", "/v1/reports/indicators?year=9999", "key-office", "", 400, "year", ""},
		{"breakdown_year_not_covered", "GET", "/v1/reports/breakdown?by=sku&year=1900", "key-office", "", 400, "year", ""},
		{"spending_month_not_covered", "GET", "/v1/reports/spending?month=9999-12", "key-office", "", 400, "month", ""},
		{"spending_from_not_covered", "GET", "/v1/reports/spending?from=0001-01-01&to=2019-01-01", "key-office", "", 400, "from", ""},
		{"indicators_for_branch_staff", "GET", "/v1/reports/indicators?year=2019", "key-hq", "", 403, "", ""},
		{"breakdown_county_month", "GET", "/v1/reports/breakdown?by=county,month&year=2019&compare=true", "key-office", "", 200, "", `"net_units"`},
		{"breakdown_quarter", "GET", "/v1/reports/breakdown?by=sku&quarter=2019Q1", "key-office", "", 200, "", `"2019-03-31"`},
		{"breakdown_bad_quarter", "GET", "/v1/reports/breakdown?by=sku&quarter=2019Q5", "key-office", "", 400, "quarter", ""},
		{"breakdown_bad_month", "GET", "/v1/reports/breakdown?by=sku&month=2019-13", "key-office", "", 400, "month", ""},
		{"breakdown_two_periods", "GET", "/v1/reports/breakdown?by=sku&month=2019-03&year=2019", "key-office", "", 400, "month", ""},
		{"breakdown_three_dims", "GET", "/v1/reports/breakdown?by=sku,mall,month&year=2019", "key-office", "", 400, "by", ""},
		{"breakdown_same_dim_twice", "GET", "/v1/reports/breakdown?by=sku,sku&year=2019", "key-office", "", 400, "by", ""},
		{"breakdown_from_without_to", "GET", "/v1/reports/breakdown?by=sku&from=2019-01-01", "key-office", "", 400, "to", ""},
		{"suppliers_month", "GET", "/v1/reports/suppliers?month=2019-03", "key-auditor", "", 200, "", `"linked_households"`},
		{"unattributed_csv", "GET", "/v1/reports/unattributed?year=2019&format=csv", "key-auditor", "", 200, "", "供应商,名称,县,签收金额"},
		{"unattributed_csv_english_headers", "GET", "/v1/reports/unattributed?year=2019&format=csv&headers=en", "key-auditor", "", 200, "", "supplier,label,county"},
		{"breakdown_to_before_from", "GET", "/v1/reports/breakdown?by=sku&from=2019-03-01&to=2019-02-01", "key-office", "", 422, "to", ""},
		{"spending_year", "GET", "/v1/reports/spending?year=2019", "key-office", "", 200, "", `"placed_amount"`},
		{"spending_unknown_param", "GET", "/v1/reports/spending?year=2019&branch=HQ", "key-office", "", 400, "branch", ""},
		{"target_set_by_office", "PUT", "/v1/targets/2031", "key-office", `{"purchased_amount":"1200000.00","helped_sell_amount":"800000.50"}`, 200, "", `"helped_sell_amount":"800000.50"`},
		{"target_set_by_auditor", "PUT", "/v1/targets/2031", "key-auditor", `{"purchased_amount":"1.00","helped_sell_amount":"1.00"}`, 403, "", ""},
		{"target_negative", "PUT", "/v1/targets/2032", "key-office", `{"purchased_amount":"-1.00","helped_sell_amount":"1.00"}`, 422, "", "purchased_amount"},
		{"target_missing_field", "PUT", "/v1/targets/2032", "key-office", `{"purchased_amount":"1.00"}`, 422, "", "helped_sell_amount"},
		{"target_none", "GET", "/v1/targets/2033", "key-auditor", "", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, db)
			rec := h.do(request{method: tt.method, path: tt.path, key: tt.key, body: tt.body, header: map[string]string{"Content-Type": "application/json"}})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantBody != "" && !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("body lacks %s: %s", tt.wantBody, rec.Body)
			}
			if tt.wantParam != "" {
				var p struct {
					Errors []struct{ Parameter string } `json:"errors"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &p)
				if len(p.Errors) == 0 || p.Errors[0].Parameter != tt.wantParam {
					t.Fatalf("problem names %+v, want parameter %q: %s", p.Errors, tt.wantParam, rec.Body)
				}
			}
		})
	}
	// A target set is read back, and the indicators show the percentage reached.
	h := newHarnessOn(t, db)
	if rec := h.do(request{method: "PUT", path: "/v1/targets/2019", key: "key-office", body: `{"purchased_amount":"100.00","helped_sell_amount":"0.00"}`}); rec.Code != 200 {
		t.Fatalf("put 2019: %d %s", rec.Code, rec.Body)
	}
	rec := h.do(request{method: "GET", path: "/v1/reports/indicators?year=2019", key: "key-auditor"})
	var x struct {
		Group struct {
			Purchased string `json:"purchased_amount"`
		} `json:"group"`
		Target *struct {
			Purchased  string  `json:"purchased_amount"`
			Percent    *string `json:"purchased_percent"`
			HelpedPerc *string `json:"helped_sell_percent"`
		} `json:"target"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &x); err != nil || x.Target == nil || x.Target.Purchased != "100.00" || x.Target.Percent == nil || x.Target.HelpedPerc != nil {
		t.Fatalf("indicators %s (%v)", rec.Body, err)
	}
	if x.Group.Purchased == "0.00" {
		t.Fatalf("the delivered union order is missing from the indicators: %s", rec.Body)
	}
	_ = http.MethodGet
}
