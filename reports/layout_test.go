package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"aidmall/bizday"
	"aidmall/money"
	"aidmall/reports"
)

func TestPercentValue(t *testing.T) {
	t.Parallel()
	pct := func(s string) *string { return &s }
	for _, tt := range []struct {
		in             *string
		text, fraction string
	}{
		{pct("12.35"), "12.35%", "0.1235"},
		{pct("100.00"), "100.00%", "1"},
		{pct("0.01"), "0.01%", "0.0001"},
		{pct("136.00"), "136.00%", "1.36"},
		{pct("0.00"), "0.00%", "0"},
		{nil, "", ""},
	} {
		v := reports.PercentValue(tt.in)
		if v.Kind() != reports.KindPercent || v.String() != tt.text || v.Fraction() != tt.fraction || v.IsEmpty() != (tt.in == nil) {
			t.Errorf("PercentValue(%v): %q %q empty %v, want %q %q", tt.in, v.String(), v.Fraction(), v.IsEmpty(), tt.text, tt.fraction)
		}
	}
	if f := reports.Money(1235).Fraction(); f != "" {
		t.Errorf("money has a fraction %q", f)
	}
}

// TestIndicatorsDocument: the branches as rows, the group (not a sum of the branches'
// households) as the 合计 row, a branch without a budget says 无预算 with an empty
// percentage, and the targets with the percentage reached are headline indicators that
// the CSV carries.
func TestIndicatorsDocument(t *testing.T) {
	t.Parallel()
	b := money.Fen(100000)
	x := reports.Indicators{Year: 2019, Period: reports.YearPeriod(2019),
		Group: reports.IndicatorRow{Label: "集团合计", PurchasedAmount: 1234, Households: 3, People: 9, Used: 1234, BudgetNote: reports.NoBudget},
		Branches: []reports.IndicatorRow{
			{Branch: "HQ", Label: "总部", PurchasedAmount: 1234, Households: 2, People: 6, Budget: &b, Used: 1234, UsedPercent: reports.Percent(1234, b)},
			{Branch: "S01", Label: "一公司", Households: 2, People: 5, BudgetNote: reports.NoBudget},
		},
		Target: &reports.TargetProgress{Target: reports.Target{PurchasedAmount: 1000}, PurchasedPercent: reports.Percent(1234, 1000)},
	}
	d := x.Document()
	if len(d.Tables) != 1 || len(d.Tables[0].Rows) != 2 {
		t.Fatalf("tables %+v", d.Tables)
	}
	tab := d.Tables[0]
	total := strings.Join(cellsOf(tab.Total), "|")
	if total != "|集团合计|12.34|0.00|3|9|无预算|12.34|" {
		t.Errorf("合计 row %q", total)
	}
	if row := strings.Join(cellsOf(tab.Rows[0]), "|"); row != "HQ|总部|12.34|0.00|2|6|1000.00|12.34|1.23%" {
		t.Errorf("HQ row %q", row)
	}
	var csv bytes.Buffer
	if err := reports.WriteCSVDocument(&csv, d, reports.CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\uFEFF工会单位,名称,购买金额,帮助销售金额,受益户数,受益人数,预算,已使用,使用比例\n", "购买目标,10.00", "购买完成比例,123.40%", "年度,2019", "受益户数,3"} {
		if !strings.Contains(csv.String(), want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv.String())
		}
	}
	x.Target = nil
	var text bytes.Buffer
	if err := reports.WriteText(&text, x.Document()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "年度目标 target") || !strings.Contains(text.String(), "未设定") {
		t.Errorf("the text does not say the targets are not set:\n%s", text.String())
	}
}

// TestBreakdownDocumentWithComparison: a key and a label column per dimension, the year
// before's figures beside each row (zero for a slice new this year), and a 合计 row with
// the totals' households (never the rows' sum) and the rows' net, for both years.
func TestBreakdownDocumentWithComparison(t *testing.T) {
	t.Parallel()
	p := reports.Period{From: bizday.MustParse("2019-01-01"), To: bizday.MustParse("2019-12-31")}
	b := reports.Breakdown{Period: p, By: []reports.By{reports.ByCounty, reports.ByMonth},
		Totals: reports.BreakdownTotals{Totals: reports.Totals{Households: 2, People: 5}, NetUnits: 7},
		Rows: []reports.BreakdownRow{
			{Keys: []string{"610630", "2019-03"}, Labels: []string{"宜川县", "2019-03"}, Figures: reports.Figures{Households: 2, People: 5, NetAmount: 6800, NetUnits: 4}, Previous: &reports.Figures{Households: 1, People: 2, NetAmount: 100, NetUnits: 1}},
			{Keys: []string{"610825", "2019-04"}, Labels: []string{"定边县", "2019-04"}, Figures: reports.Figures{Households: 1, People: 3, NetAmount: 300, NetUnits: 3}, Previous: &reports.Figures{}},
		},
		Previous: &reports.PreviousPeriod{Period: p.YearBefore(), Totals: reports.BreakdownTotals{Totals: reports.Totals{Households: 1, People: 2}, NetUnits: 1}},
	}
	d := b.Document()
	tab := d.Tables[0]
	var heads []string
	for _, c := range tab.Columns {
		heads = append(heads, c.Title)
	}
	if got := strings.Join(heads, ","); got != "县,县名称,月份,月份名称,受益户数,受益人数,净额,净数量,上年同期受益户数,上年同期受益人数,上年同期净额,上年同期净数量" {
		t.Errorf("headers %s", got)
	}
	if tab.Name != "按县、月份" {
		t.Errorf("sheet %q", tab.Name)
	}
	if got := strings.Join(cellsOf(tab.Total), "|"); got != "|合计|||2|5|71.00|7|1|2|1.00|1" {
		t.Errorf("合计 row %q", got)
	}
	params := map[string]string{}
	for _, f := range d.Params {
		params[f.Name] = f.Value.String()
	}
	if params["by"] != "county,month" || params["previous_from"] != "2018-01-01" || params["previous_to"] != "2018-12-31" {
		t.Errorf("params %v", params)
	}
}

func cellsOf(vs []reports.Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}
