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

// TestWorkbookWritesPercentagesAsExactFractions writes the indicators' percentages: each a
// number cell holding the exact decimal fraction of the report's percentage (12.35 →
// 0.1235, moved by decimal point, no float) formatted 0.00%, so a spreadsheet shows 12.35%
// and computes with it; an absent percentage (no budget) is an empty cell, and the budget
// cell says 无预算.
func TestWorkbookWritesPercentagesAsExactFractions(t *testing.T) {
	t.Parallel()
	pct := func(s string) *string { return &s }
	budget := money.Fen(92800000)
	x := reports.Indicators{Year: 2019, Period: reports.YearPeriod(2019), Timezone: reports.Timezone,
		Group: reports.IndicatorRow{Label: "集团合计", PurchasedAmount: 1234567, Used: 1146000, BudgetNote: reports.NoBudget},
		Branches: []reports.IndicatorRow{
			{Branch: "HQ", Label: "总部", PurchasedAmount: 1234567, Budget: &budget, Used: 1146000, UsedPercent: pct("1.23")},
			{Branch: "S01", Label: "一公司", BudgetNote: reports.NoBudget},
		},
		Target: &reports.TargetProgress{Target: reports.Target{Year: 2019, PurchasedAmount: 1000000}, PurchasedPercent: pct("123.46")},
	}
	var buf bytes.Buffer
	if err := xlsxreport.Write(&buf, x.Document(), time.Now()); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sh := "按工会单位"
	if h, _ := f.GetCellValue(sh, "I1"); h != "使用比例" {
		t.Fatalf("I1 %q, want the percent column", h)
	}
	for _, c := range []struct{ cell, raw, shown string }{
		{"I2", "0.0123", "1.23%"}, {"I3", "", ""}, {"I4", "", ""}, {"G3", "无预算", "无预算"},
	} {
		raw, _ := f.GetCellValue(sh, c.cell, excelize.Options{RawCellValue: true})
		shown, _ := f.GetCellValue(sh, c.cell)
		if raw != c.raw || shown != c.shown {
			t.Errorf("%s: raw %q shown %q, want %q %q", c.cell, raw, shown, c.raw, c.shown)
		}
	}
	typ, _ := f.GetCellType(sh, "I2")
	style, _ := f.GetCellStyle(sh, "I2")
	st, _ := f.GetStyle(style)
	if typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString || st == nil || st.CustomNumFmt == nil || *st.CustomNumFmt != xlsxreport.PercentFormat {
		t.Errorf("I2: type %v style %+v, want a number formatted %s", typ, st, xlsxreport.PercentFormat)
	}
	cover, _ := f.GetRows(xlsxreport.CoverSheet)
	found := map[string]string{}
	for _, r := range cover {
		if len(r) == 2 {
			found[r[0]] = r[1]
		}
	}
	if found["购买完成比例"] != "123.46%" || found["预算"] != "无预算" || found["购买目标"] != "10,000.00" {
		t.Errorf("cover %q", found)
	}
}
