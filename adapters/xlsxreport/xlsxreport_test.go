package xlsxreport_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"aidmall/adapters/xlsxreport"
	"aidmall/money"
	"aidmall/reports"
)

// indicators stands for a report another slice adds: plain json-tagged structs, two
// breakdowns and totals, laid out by reports.DocumentOf with no renderer code.
type indicators struct {
	Year   int    `json:"year"`
	Totals totals `json:"totals"`
	Rows   []row  `json:"branches" zh:"按工会单位"`
	Months []row  `json:"months" zh:"按月份"`
}

type totals struct {
	Households int       `json:"households"`
	Purchased  money.Fen `json:"purchased_amount"`
}

type row struct {
	Key        string    `json:"key"`
	Households int       `json:"households"`
	Purchased  money.Fen `json:"purchased_amount"`
}

// TestWorkbookKeepsMoneyAsFormattedNumbers reads a written workbook back with excelize: a
// cover first with the headline figures, one sheet per breakdown, the header row frozen,
// money cells numbers (never text) formatted #,##0.00 holding the exact yuan amount, codes
// kept as text, and the 合计 row carrying the report's own totals.
func TestWorkbookKeepsMoneyAsFormattedNumbers(t *testing.T) {
	t.Parallel()
	rep := indicators{Year: 2019, Totals: totals{Households: 3, Purchased: 123456789},
		Rows:   []row{{"001", 2, 123456700}, {"002", 2, 89}},
		Months: []row{{"2019-03", 3, 123456789}}}
	doc, err := reports.DocumentOf(rep, "indicators")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := xlsxreport.Write(&buf, doc, time.Date(2020, 1, 1, 16, 30, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 3 || got[0] != xlsxreport.CoverSheet || got[1] != "按工会单位" || got[2] != "按月份" {
		t.Fatalf("sheets %q", got)
	}
	cover, _ := f.GetRows(xlsxreport.CoverSheet)
	found := map[string]string{}
	for _, r := range cover {
		if len(r) == 2 {
			found[r[0]] = r[1]
		}
	}
	if found["年度"] != "2019" || found["受益户数"] != "3" || found["购买金额"] != "1,234,567.89" || found["制表时间"] != "2020-01-02 00:30:00 (Asia/Shanghai)" {
		t.Errorf("cover %q", found)
	}
	sh := "按工会单位"
	panes, err := f.GetPanes(sh)
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("panes %+v %v: want the header row frozen", panes, err)
	}
	if h, _ := f.GetCellValue(sh, "C1"); h != "购买金额" {
		t.Errorf("header C1 %q", h)
	}
	for cell, want := range map[string]string{"C2": "1234567.00", "C3": "0.89", "C4": "1234567.89"} {
		typ, _ := f.GetCellType(sh, cell)
		raw, _ := f.GetCellValue(sh, cell, excelize.Options{RawCellValue: true})
		if typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString || raw != want {
			t.Errorf("%s: type %v raw %q, want the number %s", cell, typ, raw, want)
		}
		style, _ := f.GetCellStyle(sh, cell)
		st, _ := f.GetStyle(style)
		if st == nil || st.CustomNumFmt == nil || *st.CustomNumFmt != xlsxreport.MoneyFormat {
			t.Errorf("%s: style %+v, want %s", cell, st, xlsxreport.MoneyFormat)
		}
	}
	if v, _ := f.GetCellValue(sh, "A2"); v != "001" {
		t.Errorf("code A2 %q: leading zeros lost", v)
	}
	if a, _ := f.GetCellValue(sh, "A4"); a != "合计" {
		t.Errorf("total row label %q", a)
	}
	if b, _ := f.GetCellValue(sh, "B4"); b != "3" {
		t.Errorf("total households %q, want the totals' 3 (not the rows' sum 4)", b)
	}
}
