package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	. "aidmall/api"
)

// TestReportSetExports asks every report of the set as JSON, then as CSV (UTF-8 with a
// BOM by format=, GB18030 by Accept), as CSV with English headers and as XLSX by Accept,
// as a spreadsheet user and a script would, and finds in each the same headline figure
// the JSON gives: the CSV's first line is the table's Chinese (or English) header and its
// headline records carry the figure; the workbook has a cover sheet with it, as a number,
// and the report's sheet. An Accept naming no format we write is a 406.
func TestReportSetExports(t *testing.T) {
	t.Parallel()
	h := exportHarness(t)
	if rec := h.do(request{method: http.MethodPut, path: "/v1/targets/2019", key: "key-office", body: `{"purchased_amount":"100.00","helped_sell_amount":"50.00"}`,
		header: map[string]string{"Content-Type": "application/json"}}); rec.Code != http.StatusOK {
		t.Fatalf("target: %d %s", rec.Code, rec.Body)
	}
	tests := []struct {
		name, query       string
		header, headerEN  string // first CSV line, Chinese and English
		headline          string // a headline indicator's Chinese title …
		jsonPath          []string
		sheet, fileprefix string
	}{
		{"indicators", "indicators?year=2019", "工会单位,名称,购买金额,帮助销售金额,受益户数,受益人数,预算,已使用,使用比例",
			"branch,label,purchased_amount,helped_sell_amount,households,people,budget,used,used_percent",
			"购买金额", []string{"group", "purchased_amount"}, "按工会单位", "indicators-2019"},
		{"breakdown", "breakdown?by=county,month&year=2019&compare=true", "县,县名称,月份,月份名称,受益户数,受益人数,净额,净数量,上年同期受益户数",
			"county,county_label,month,month_label,households,people,net_amount,net_units,previous_households",
			"受益户数", []string{"totals", "households"}, "按县、月份", "breakdown-2019-01-01-2019-12-31-county_month-2018-01-01-2018-12-31"},
		{"suppliers", "suppliers?quarter=2019Q1", "供应商,名称,县,受益户数,受益人数,净额,净数量,未归属金额,联结户数",
			"supplier,label,county,households,people,net_amount,net_units,unattributed_amount,linked_households",
			"净数量", []string{"totals", "net_units"}, "按供应商", "suppliers-2019-01-01-2019-03-31"},
		{"unattributed", "unattributed?year=2019", "供应商,名称,县,签收金额,退款金额,净额",
			"supplier,label,county,delivered_amount,refunded_amount,net_amount",
			"未归属金额", []string{"unattributed_amount"}, "按供应商", "unattributed-2019-01-01-2019-12-31"},
		{"spending", "spending?month=2019-03", "工会单位,名称,月份,下单金额,签收金额,退款金额,取消或拒单金额",
			"branch,label,month,placed_amount,delivered_amount,refunded_amount,cancelled_amount",
			"下单金额", []string{"totals", "placed_amount"}, "按工会单位、月份", "spending-2019-03-01-2019-03-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := "/v1/reports/" + tt.query
			get := func(query, accept string) *http.Response {
				rec := h.do(request{method: http.MethodGet, path: path + query, key: "key-auditor", header: map[string]string{"Accept": accept}})
				return rec.Result()
			}
			res := get("", "")
			var js map[string]any
			if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&js) != nil {
				t.Fatalf("json: %d", res.StatusCode)
			}
			var v any = js
			for _, k := range tt.jsonPath {
				v = v.(map[string]any)[k]
			}
			want := decimal.RequireFromString(toString(v))
			if tt.name == "indicators" && (want.IsZero() || js["target"] == nil) {
				t.Fatalf("the seeded deliveries or the target are missing: %v", js)
			}

			for _, c := range []struct {
				name, query, accept, wantType, header string
				decode                                func([]byte) ([]byte, error)
			}{
				{"utf8_bom", "&format=csv", "", "text/csv; charset=utf-8", tt.header, func(b []byte) ([]byte, error) {
					if !bytes.HasPrefix(b, []byte("\uFEFF")) {
						return nil, errNoBOM
					}
					return b[3:], nil
				}},
				{"gb18030_by_accept", "", "text/csv; charset=gb18030", "text/csv; charset=gb18030", tt.header, simplifiedchinese.GB18030.NewDecoder().Bytes},
				{"english_headers", "&format=csv&headers=en", "", "text/csv; charset=utf-8", tt.headerEN, func(b []byte) ([]byte, error) { return b[3:], nil }},
			} {
				res := get(c.query, c.accept)
				if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != c.wantType {
					t.Fatalf("%s: %d %q", c.name, res.StatusCode, res.Header.Get("Content-Type"))
				}
				var raw bytes.Buffer
				raw.ReadFrom(res.Body)
				text, err := c.decode(raw.Bytes())
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				r := csv.NewReader(bytes.NewReader(text))
				recs, err := r.ReadAll()
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if got := strings.Join(recs[0], ","); !strings.HasPrefix(got, c.header) {
					t.Errorf("%s: header %q, want %q…", c.name, got, c.header)
				}
				if c.name != "english_headers" && !hasRecord(recs, tt.headline, want) {
					t.Errorf("%s: no headline %s = %s in %q", c.name, tt.headline, want, recs)
				}
			}

			res = get("", ContentTypeXLSX)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ContentTypeXLSX {
				t.Fatalf("xlsx: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if _, _, err := mime.ParseMediaType(res.Header.Get("Content-Disposition")); err != nil ||
				!strings.Contains(res.Header.Get("Content-Disposition"), `filename="`+tt.fileprefix+`.xlsx"`) {
				t.Errorf("Content-Disposition %q, want %s.xlsx", res.Header.Get("Content-Disposition"), tt.fileprefix)
			}
			f, err := excelize.OpenReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if sheets := f.GetSheetList(); len(sheets) != 2 || sheets[0] != "封面" || sheets[1] != tt.sheet {
				t.Fatalf("sheets %q, want 封面 and %s", sheets, tt.sheet)
			}
			cover, _ := f.GetRows("封面", excelize.Options{RawCellValue: true})
			if !hasRecord(cover, tt.headline, want) {
				t.Errorf("cover lacks %s = %s: %q", tt.headline, want, cover)
			}
			if res := get("", "image/png"); res.StatusCode != http.StatusNotAcceptable {
				t.Errorf("Accept image/png: %d, want 406", res.StatusCode)
			}
		})
	}
}

// hasRecord reports whether a record is title followed by a number equal to want.
func hasRecord(recs [][]string, title string, want decimal.Decimal) bool {
	for _, r := range recs {
		if len(r) >= 2 && r[0] == title {
			if d, err := decimal.NewFromString(r[1]); err == nil && d.Equal(want) {
				return true
			}
		}
	}
	return false
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return decimal.NewFromFloat(x).String()
	}
	return "NaN"
}
