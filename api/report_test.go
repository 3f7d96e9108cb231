package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/bizday"
	"aidmall/orders"
	"aidmall/reports"
)

func TestBenefitReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		key        string
		query      string
		accept     string
		wantStatus int
		wantCSV    bool
		wantParam  string
	}{
		{name: "when_aid_office_asks_expect_json", key: "key-office", query: "from=2019-01-01&to=2019-12-31&by=county", wantStatus: 200},
		{name: "when_auditor_asks_expect_json", key: "key-auditor", query: "from=2019-01-01&to=2019-12-31&by=county", wantStatus: 200},
		{name: "when_format_csv_expect_csv", key: "key-auditor", query: "from=2019-01-01&to=2019-12-31&by=county&format=csv", wantStatus: 200, wantCSV: true},
		{name: "when_accept_text_csv_expect_csv", key: "key-auditor", query: "from=2019-01-01&to=2019-12-31&by=county", accept: "text/csv", wantStatus: 200, wantCSV: true},
		{name: "when_accept_prefers_json_expect_json", key: "key-auditor", query: "from=2019-01-01&to=2019-12-31&by=county",
			accept: "text/csv;q=0.5, application/json", wantStatus: 200},
		{name: "when_format_json_overrides_accept_expect_json", key: "key-auditor", query: "from=2019-01-01&to=2019-12-31&by=county&format=json",
			accept: "text/csv", wantStatus: 200},
		{name: "when_branch_staff_asks_expect_403", key: "key-hq", query: "from=2019-01-01&to=2019-12-31&by=county", wantStatus: 403},
		{name: "when_from_missing_expect_400_naming_from", key: "key-office", query: "to=2019-12-31&by=county", wantStatus: 400, wantParam: "from"},
		{name: "when_date_malformed_expect_400_naming_it", key: "key-office", query: "from=2019-13-01&to=2019-12-31&by=county", wantStatus: 400, wantParam: "from"},
		{name: "when_by_unknown_expect_400_naming_by", key: "key-office", query: "from=2019-01-01&to=2019-12-31&by=village", wantStatus: 400, wantParam: "by"},
		{name: "when_format_unknown_expect_400_naming_format", key: "key-office", query: "from=2019-01-01&to=2019-12-31&by=county&format=pdf", wantStatus: 400, wantParam: "format"},
		{name: "when_charset_unknown_expect_400_naming_charset", key: "key-office", query: "from=2019-01-01&to=2019-12-31&by=county&format=csv&charset=latin1", wantStatus: 400, wantParam: "charset"},
		{name: "when_charset_given_for_json_expect_400_naming_charset", key: "key-office", query: "from=2019-01-01&to=2019-12-31&by=county&format=json&charset=gb18030", wantStatus: 400, wantParam: "charset"},
		{name: "when_accept_names_no_format_expect_406", key: "key-office", query: "from=2019-01-01&to=2019-12-31&by=county", accept: "image/png", wantStatus: 406},
		{name: "when_format_given_accept_is_ignored_expect_csv", key: "key-office", query: "from=2019-01-01&to=2019-12-31&by=county&format=csv", accept: "image/png", wantStatus: 200, wantCSV: true},
		{name: "when_to_before_from_expect_422_naming_to", key: "key-office", query: "from=2019-12-31&to=2019-01-01&by=county", wantStatus: 422, wantParam: "to"},
		{name: "when_year_given_expect_that_year", key: "key-auditor", query: "year=2019&by=county", wantStatus: 200},
		{name: "when_month_malformed_expect_400_naming_month", key: "key-office", query: "month=2019-13&by=county", wantStatus: 400, wantParam: "month"},
		{name: "when_quarter_malformed_expect_400_naming_quarter", key: "key-office", query: "quarter=2019Q5&by=county", wantStatus: 400, wantParam: "quarter"},
		{name: "when_year_and_range_expect_400_naming_both", key: "key-office", query: "from=2019-01-01&to=2019-12-31&year=2019&by=county", wantStatus: 400, wantParam: "from"},
		{name: "when_no_period_expect_400", key: "key-office", query: "by=county", wantStatus: 400, wantParam: "year"},
		{name: "when_no_key_expect_401", key: "", query: "from=2019-01-01&to=2019-12-31&by=county", wantStatus: 401},
	}
	// One database for every case: the 2019 registry and one delivered order of 2 boxes
	// at 68.00 yuan from YC01, whose linked households the report counts.
	db := sqltest.SQLite(t)
	seed := newHarnessOn(t, db)
	sqltest.ImportBundle(t, seed.store, sqltest.ExampleBundle())
	seed.advance(seed.placeAt("HQ", "2019-HQ-R1", time.Date(2019, 3, 1, 10, 0, 0, 0, bizday.Beijing), "13912345678"), orders.StatusDelivered)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, db)
			rec := h.do(request{method: http.MethodGet, path: "/v1/reports/benefit?" + tt.query, key: tt.key,
				header: map[string]string{"Accept": tt.accept}})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if rec.Code != http.StatusOK {
				p := problemOf(t, rec)
				if tt.wantParam != "" && (len(p.Errors) == 0 || p.Errors[0].Parameter != tt.wantParam) {
					t.Errorf("errors %+v, want parameter %q", p.Errors, tt.wantParam)
				}
				if len(h.reports.ran()) != 0 {
					t.Error("the report ran for a refused request")
				}
				return
			}
			want := reports.Query{From: bizday.MustParse("2019-01-01"), To: bizday.MustParse("2019-12-31"), By: "county"}
			if q := h.reports.ran(); len(q) != 1 || q[0] != want {
				t.Fatalf("queries %+v, want %+v", q, want)
			}
			// The answer is the store's report, rendered: computed here directly.
			b, err := h.store.Benefit(context.Background(), want)
			if err != nil {
				t.Fatal(err)
			}
			if b.Totals.DeliveredAmount != 13600 || b.Totals.Households == 0 || len(b.Rows) == 0 {
				t.Fatalf("the seeded delivery is not in the report: %+v", b)
			}
			if tt.wantCSV {
				var csv bytes.Buffer
				if err := reports.WriteCSV(&csv, b); err != nil {
					t.Fatal(err)
				}
				if rec.Header().Get("Content-Type") != ContentTypeCSV || !bytes.Equal(rec.Body.Bytes(), csv.Bytes()) {
					t.Errorf("csv answer %q %q, want reports.WriteCSV's %q", rec.Header().Get("Content-Type"), rec.Body, csv.String())
				}
				if cd := rec.Header().Get("Content-Disposition"); cd != ContentDisposition("benefit-2019-01-01-2019-12-31-county.csv", "受益统计-2019-01-01-2019-12-31-county.csv") {
					t.Errorf("Content-Disposition %q", cd)
				}
				return
			}
			var wantJSON bytes.Buffer
			if err := reports.WriteJSON(&wantJSON, b); err != nil {
				t.Fatal(err)
			}
			if rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), wantJSON.Bytes()) {
				t.Errorf("json answer %q %s, want %s", rec.Header().Get("Content-Type"), rec.Body, wantJSON.String())
			}
			var decoded reports.Benefit
			if err := json.Unmarshal(rec.Body.Bytes(), &decoded); err != nil || decoded.Totals.People != b.Totals.People || decoded.Rows[0].NetAmount != b.Rows[0].NetAmount {
				t.Errorf("the JSON does not read back: %v %+v", err, decoded)
			}
		})
	}
}

func TestNegotiateReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		accept  string
		want    string
		charset reports.Charset
	}{
		{"when_no_accept_expect_json", "", "json", ""},
		{"when_any_expect_json", "*/*", "json", ""},
		{"when_text_csv_expect_csv", "text/csv", "csv", reports.UTF8BOM},
		{"when_csv_with_charset_expect_csv", "text/csv; charset=utf-8", "csv", reports.UTF8BOM},
		{"when_csv_gb18030_expect_gb18030", "text/csv; charset=GB18030", "csv", reports.GB18030},
		{"when_csv_charset_unwritable_expect_refused", "text/csv; charset=latin1", "", ""},
		{"when_text_any_expect_csv", "text/*", "csv", ""},
		{"when_xlsx_expect_xlsx", ContentTypeXLSX, "xlsx", ""},
		{"when_xlsx_preferred_expect_xlsx", "application/json;q=0.5, " + ContentTypeXLSX, "xlsx", ""},
		{"when_json_first_equal_quality_expect_json", "application/json, text/csv", "json", ""},
		{"when_csv_higher_quality_expect_csv", "application/json;q=0.4, text/csv;q=0.9", "csv", reports.UTF8BOM},
		{"when_csv_refused_expect_none", "text/csv;q=0", "", ""},
		{"when_json_refused_over_wildcard_expect_csv", "application/json;q=0, */*;q=0.5", "csv", ""},
		{"when_only_other_types_expect_none", "image/png, text/html;q=0.5", "", ""},
		{"when_quality_malformed_expect_ignored", "text/csv;q=abc", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, cs, ok := NegotiateReport(tt.accept)
			if got != tt.want || ok != (tt.want != "") || (tt.want == "csv" && cs != tt.charset) {
				t.Errorf("NegotiateReport(%q) = %q, %q, %v; want %q, %q", tt.accept, got, cs, ok, tt.want, tt.charset)
			}
		})
	}
}

func TestContentDispositionNamesTheFileInUTF8(t *testing.T) {
	t.Parallel()
	got := ContentDisposition("benefit-2019.xlsx", "受益统计-2019.xlsx")
	_, params, err := mime.ParseMediaType(got)
	if err != nil {
		t.Fatalf("%q: %v", got, err)
	}
	// mime decodes filename* (RFC 2231/5987) into filename, preferring it.
	if params["filename"] != "受益统计-2019.xlsx" {
		t.Errorf("%q decodes to filename %q", got, params["filename"])
	}
	if !strings.Contains(got, `filename="benefit-2019.xlsx"`) {
		t.Errorf("%q has no ASCII filename for old clients", got)
	}
}
