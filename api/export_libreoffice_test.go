package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"aidmall/adapters/sqlstore/sqltest"
	. "aidmall/api"
	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// exportHarness is a server on a database holding the 2019 registry and two delivered
// orders, in February and March 2019.
func exportHarness(t *testing.T) *harness {
	t.Helper()
	db := sqltest.SQLite(t)
	h := newHarnessOn(t, db)
	sqltest.ImportBundle(t, h.store, sqltest.ExampleBundle())
	for i, ref := range []string{"2019-HQ-X1", "2019-HQ-X2"} {
		h.advance(h.placeAt("HQ", ref, time.Date(2019, time.Month(2+i), 1, 10, 0, 0, 0, bizday.Beijing), "13912345678"), orders.StatusDelivered)
	}
	return h
}

// TestReportXLSXOpensInLibreOffice asks the benefit report by every dimension as JSON and
// as XLSX, converts every sheet of the workbook with LibreOffice headless (as a user's
// spreadsheet program reads it), and finds the JSON's figures there: every row's key,
// label, households, people and net amount on the breakdown sheet with the Chinese
// headers, the 合计 row with the totals, and every headline total on the cover sheet. The
// same run opens the 2019 indicators' workbook (targets set): checkIndicatorsSheets.
func TestReportXLSXOpensInLibreOffice(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		t.Skip("soffice (LibreOffice) is not installed: .ci/run installs Debian's libreoffice-calc-nogui; without it the XLSX exports are not opened by a spreadsheet program")
	}
	h := exportHarness(t)
	dir := t.TempDir()
	jsons := map[reports.By]reports.Benefit{}
	workbooks := map[string][]byte{}
	for _, by := range reports.Dimensions() {
		query := "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=" + string(by)
		rec := h.do(request{method: http.MethodGet, path: query, key: "key-office"})
		if rec.Code != http.StatusOK {
			t.Fatalf("%s json: %d %s", by, rec.Code, rec.Body)
		}
		var b reports.Benefit
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		if len(b.Rows) == 0 || b.Totals.DeliveredAmount == 0 {
			t.Fatalf("%s: the seeded deliveries are not in the report: %s", by, rec.Body)
		}
		rec = h.do(request{method: http.MethodGet, path: query, key: "key-office", header: map[string]string{"Accept": ContentTypeXLSX}})
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ContentTypeXLSX {
			t.Fatalf("%s xlsx: %d %q", by, rec.Code, rec.Header().Get("Content-Type"))
		}
		jsons[by], workbooks[string(by)] = b, rec.Body.Bytes()
	}
	// The indicators of 2019 with the group's targets set, so the workbook has percentages.
	if rec := h.do(request{method: http.MethodPut, path: "/v1/targets/2019", key: "key-office", body: `{"purchased_amount":"100.00","helped_sell_amount":"50.00"}`,
		header: map[string]string{"Content-Type": "application/json"}}); rec.Code != http.StatusOK {
		t.Fatalf("target: %d %s", rec.Code, rec.Body)
	}
	rec := h.do(request{method: http.MethodGet, path: "/v1/reports/indicators?year=2019", key: "key-auditor"})
	var ind reports.Indicators
	if err := json.Unmarshal(rec.Body.Bytes(), &ind); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("indicators json: %d %v %s", rec.Code, err, rec.Body)
	}
	if ind.Group.PurchasedAmount == 0 || ind.Target == nil || ind.Target.PurchasedPercent == nil || len(ind.Branches) == 0 {
		t.Fatalf("the seeded deliveries or the target are missing from the indicators: %s", rec.Body)
	}
	rec = h.do(request{method: http.MethodGet, path: "/v1/reports/indicators?year=2019&format=xlsx", key: "key-auditor"})
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ContentTypeXLSX {
		t.Fatalf("indicators xlsx: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	workbooks["indicators"] = rec.Body.Bytes()
	// One soffice run for every workbook: starting LibreOffice is the slow part.
	converted := convertAllSheets(t, soffice, dir, workbooks)
	checkIndicatorsSheets(t, ind, converted["indicators"])
	for _, by := range reports.Dimensions() {
		b, sheets := jsons[by], converted[string(by)]
		if len(sheets) != 2 {
			t.Fatalf("%s: %d sheets, want the cover and one breakdown: %v", by, len(sheets), keys(sheets))
		}
		cover := sheets["封面"]
		if cover == nil {
			t.Fatalf("%s: no cover sheet among %v", by, keys(sheets))
		}
		values := map[string]string{}
		for _, r := range cover {
			if len(r) >= 2 {
				values[r[0]] = plain(r[1])
			}
		}
		for title, want := range map[string]string{
			"受益户数": itoa(b.Totals.Households), "受益人数": itoa(b.Totals.People),
			"购买金额": b.Totals.PurchasedAmount.String(), "帮助销售金额": b.Totals.HelpedSellAmount.String(),
			"签收金额": b.Totals.DeliveredAmount.String(), "退款金额": b.Totals.RefundedAmount.String(),
			"起始日": "2019-01-01", "截止日": "2019-12-31",
		} {
			if values[title] != want {
				t.Errorf("%s cover: %s = %q, want %q", by, title, values[title], want)
			}
		}
		if !strings.HasSuffix(values["制表时间"], "(Asia/Shanghai)") {
			t.Errorf("%s cover: 制表时间 %q is not in Beijing time", by, values["制表时间"])
		}
		var table [][]string
		for name, rows := range sheets {
			if name != "封面" {
				table = rows
			}
		}
		if len(table) != len(b.Rows)+2 || table[0][2] != "受益户数" || table[0][4] != "净额" {
			t.Fatalf("%s sheet: want the Chinese header, %d rows and 合计; got %q", by, len(b.Rows), table)
		}
		for i, r := range b.Rows {
			got := table[i+1]
			want := []string{r.Key, r.Label, itoa(r.Households), itoa(r.People), r.NetAmount.String()}
			if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] || plain(got[4]) != want[4] {
				t.Errorf("%s row %d: %q, want %q", by, i, got, want)
			}
		}
		total := table[len(table)-1]
		if total[1] != "合计" || total[2] != itoa(b.Totals.Households) || total[3] != itoa(b.Totals.People) {
			t.Errorf("%s 合计 row %q, want households %d people %d", by, total, b.Totals.Households, b.Totals.People)
		}
	}
}

// checkIndicatorsSheets finds the indicators' JSON figures in the workbook as LibreOffice
// shows it: the group's figures, budget, use and targets with the percentages reached on
// the cover (percentages as 12.35%), every branch's row on the 按工会单位 sheet (money to
// the fen, 无预算 for a branch without a budget), and the group as the 合计 row.
func checkIndicatorsSheets(t *testing.T, x reports.Indicators, sheets map[string][][]string) {
	t.Helper()
	cover, table := sheets["封面"], sheets["按工会单位"]
	if len(sheets) != 2 || cover == nil || table == nil {
		t.Fatalf("indicators: sheets %v, want 封面 and 按工会单位", keys(sheets))
	}
	pct := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p + "%"
	}
	budget := func(b *money.Fen) string {
		if b == nil {
			return "无预算"
		}
		return b.String()
	}
	values := map[string]string{}
	for _, r := range cover {
		if len(r) >= 2 {
			values[r[0]] = plain(r[1])
		}
	}
	g := x.Group
	for title, want := range map[string]string{
		"年度": "2019", "购买金额": g.PurchasedAmount.String(), "帮助销售金额": g.HelpedSellAmount.String(),
		"受益户数": itoa(g.Households), "受益人数": itoa(g.People), "预算": budget(g.Budget), "已使用": g.Used.String(),
		"使用比例": pct(g.UsedPercent), "购买目标": x.Target.PurchasedAmount.String(), "购买完成比例": pct(x.Target.PurchasedPercent),
		"帮助销售目标": x.Target.HelpedSellAmount.String(), "帮助销售完成比例": pct(x.Target.HelpedSellPercent),
	} {
		if values[title] != want {
			t.Errorf("indicators cover: %s = %q, want %q", title, values[title], want)
		}
	}
	if got := strings.Join(table[0], ","); got != "工会单位,名称,购买金额,帮助销售金额,受益户数,受益人数,预算,已使用,使用比例" {
		t.Fatalf("indicators header %q", got)
	}
	if len(table) != len(x.Branches)+2 {
		t.Fatalf("indicators: %d rows, want %d branches, the header and 合计", len(table), len(x.Branches))
	}
	row := func(r reports.IndicatorRow) string {
		return strings.Join([]string{r.Branch, r.Label, r.PurchasedAmount.String(), r.HelpedSellAmount.String(),
			itoa(r.Households), itoa(r.People), budget(r.Budget), r.Used.String(), pct(r.UsedPercent)}, "|")
	}
	for i, r := range append(x.Branches, g) {
		got := make([]string, len(table[i+1]))
		for j, c := range table[i+1] {
			got[j] = plain(c)
		}
		if strings.Join(got, "|") != row(r) {
			t.Errorf("indicators row %d: %q, want %q", i+1, got, row(r))
		}
	}
}

// convertAllSheets converts XLSX workbooks (by name) to one UTF-8 CSV per sheet with one
// soffice run (values as shown, so money shows its number format) and returns each
// workbook's sheets by sheet name.
func convertAllSheets(t *testing.T, soffice, dir string, workbooks map[string][]byte) map[string]map[string][][]string {
	t.Helper()
	out := filepath.Join(dir, "csv")
	// Filter options: comma, double quote, UTF-8 (76), from line 1, …, cells as shown
	// (9th), every sheet to its own file (12th: -1), named <file>-<sheet>.csv.
	args := []string{"--headless", "--norestore", "-env:UserInstallation=file://" + filepath.Join(dir, "profile"),
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1", "--outdir", out}
	for name, b := range workbooks {
		in := filepath.Join(dir, name+".xlsx")
		if err := os.WriteFile(in, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, in)
	}
	if b, err := exec.Command(soffice, args...).CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, b)
	}
	all := map[string]map[string][][]string{}
	for name := range workbooks {
		files, _ := filepath.Glob(filepath.Join(out, name+"-*.csv"))
		sheets := map[string][][]string{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF"))))
			r.FieldsPerRecord = -1
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			sheets[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), name+"-"), ".csv")] = recs
		}
		all[name] = sheets
	}
	return all
}

// plain removes the thousands separators of a number shown as #,##0.00.
func plain(s string) string { return strings.ReplaceAll(s, ",", "") }

func itoa(n int) string { return strconv.Itoa(n) }

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReportCSVOpensWithChineseHeaders fetches the CSV as a user's tool would: UTF-8 by
// default, starting with a BOM, with the Chinese header row; GB18030 on request (by
// charset= and by Accept), decoding with x/text to the same header; each carries the
// headline purchased amount of the JSON report.
func TestReportCSVOpensWithChineseHeaders(t *testing.T) {
	t.Parallel()
	h := exportHarness(t)
	base := "/v1/reports/benefit?from=2019-01-01&to=2019-12-31&by=county"
	rec := h.do(request{method: http.MethodGet, path: base, key: "key-auditor"})
	var b reports.Benefit
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query, accept, wantType string
		decode                        func([]byte) ([]byte, error)
	}{
		{"utf8_bom", "&format=csv", "", "text/csv; charset=utf-8", func(raw []byte) ([]byte, error) {
			if !bytes.HasPrefix(raw, []byte("\uFEFF")) {
				return nil, errNoBOM
			}
			return bytes.TrimPrefix(raw, []byte("\uFEFF")), nil
		}},
		{"gb18030_by_parameter", "&format=csv&charset=gb18030", "", "text/csv; charset=gb18030", simplifiedchinese.GB18030.NewDecoder().Bytes},
		{"gb18030_by_accept", "", "text/csv; charset=gb18030", "text/csv; charset=gb18030", simplifiedchinese.GB18030.NewDecoder().Bytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(request{method: http.MethodGet, path: base + tc.query, key: "key-auditor", header: map[string]string{"Accept": tc.accept}})
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tc.wantType {
				t.Fatalf("%d %q, want 200 %q", rec.Code, rec.Header().Get("Content-Type"), tc.wantType)
			}
			text, err := tc.decode(rec.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(recs[0], ",") != "县,名称,受益户数,受益人数,净额" {
				t.Fatalf("header %q", recs[0])
			}
			found := false
			for _, r := range recs {
				found = found || r[0] == "购买金额" && r[1] == b.Totals.PurchasedAmount.String()
			}
			if !found {
				t.Errorf("no headline 购买金额 %s in %q", b.Totals.PurchasedAmount, recs)
			}
		})
	}
}

var errNoBOM = errorString("the UTF-8 CSV does not start with a byte-order mark")

type errorString string

func (e errorString) Error() string { return string(e) }
