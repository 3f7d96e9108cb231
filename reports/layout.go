package reports

import (
	"strconv"
	"strings"

	"aidmall/money"
)

// The report set's layouts: each report of issue 6 lays itself out as a Document (Tabular),
// so that the text table, CSV and XLSX renderers write it like the benefit report. Every
// figure is the report's own; the only sums here are of integer fen down a column for a 合计
// cell the report has no total for.

// noBudget is what a document says of a branch (or the group) without a budget.
const noBudget = "无预算"

func periodFields(p Period) []Field {
	return []Field{
		{"from", "起始日", Text(p.From.String())},
		{"to", "截止日", Text(p.To.String())},
		{"timezone", "时区", Text(Timezone)},
	}
}

func col(name string, kind Kind) Column { return Column{name, titleOr(name, ""), kind} }

func count(n int) Value { return Int(int64(n)) }

// budgetValue is a budget cell: the amount, or 无预算 when the branch has none.
func budgetValue(b *money.Fen) Value {
	if b == nil {
		return Text(noBudget)
	}
	return Money(*b)
}

// Document lays the indicators out: the year as parameter, the group's figures (and the
// targets with the percentage reached) as headline indicators, and one table of the
// branches whose 合计 row is the group's (households counted once over the year, §3.2).
func (x Indicators) Document() Document {
	g := x.Group
	d := Document{
		Report: "indicators",
		Title:  "消费帮扶指标",
		Params: []Field{
			{"year", "年度", Text(strconv.Itoa(x.Year))},
			{"timezone", "时区", Text(Timezone)},
		},
		Headline: []Field{
			{"purchased_amount", "购买金额", Money(g.PurchasedAmount)},
			{"helped_sell_amount", "帮助销售金额", Money(g.HelpedSellAmount)},
			{"households", "受益户数", count(g.Households)},
			{"people", "受益人数", count(g.People)},
			{"budget", "预算", budgetValue(g.Budget)},
			{"used", "已使用", Money(g.Used)},
			{"used_percent", "使用比例", PercentValue(g.UsedPercent)},
		},
	}
	if t := x.Target; t != nil {
		d.Headline = append(d.Headline,
			Field{"purchased_target", "购买目标", Money(t.PurchasedAmount)},
			Field{"purchased_percent", "购买完成比例", PercentValue(t.PurchasedPercent)},
			Field{"helped_sell_target", "帮助销售目标", Money(t.HelpedSellAmount)},
			Field{"helped_sell_percent", "帮助销售完成比例", PercentValue(t.HelpedSellPercent)})
	} else {
		d.Headline = append(d.Headline, Field{"target", "年度目标", Text("未设定")})
	}
	t := Table{
		Name: "按工会单位",
		Columns: []Column{
			col("branch", KindText), col("label", KindText),
			col("purchased_amount", KindMoney), col("helped_sell_amount", KindMoney),
			col("households", KindInt), col("people", KindInt),
			col("budget", KindMoney), col("used", KindMoney), col("used_percent", KindPercent),
		},
		Rows: [][]Value{},
	}
	row := func(r IndicatorRow) []Value {
		return []Value{Text(r.Branch), Text(r.Label), Money(r.PurchasedAmount), Money(r.HelpedSellAmount),
			count(r.Households), count(r.People), budgetValue(r.Budget), Money(r.Used), PercentValue(r.UsedPercent)}
	}
	for _, r := range x.Branches {
		t.Rows = append(t.Rows, row(r))
	}
	t.Total = row(g)
	d.Tables = []Table{t}
	return d
}

// breakdownTotalsFields are a breakdown's totals as headline indicators; prefix and
// titlePrefix name a comparison's ("previous_", "上年同期").
func breakdownTotalsFields(t BreakdownTotals, prefix, titlePrefix string) []Field {
	fs := append(totalsFields(t.Totals), Field{"net_units", "净数量", Int(t.NetUnits)})
	for i := range fs {
		fs[i].Name, fs[i].Title = prefix+fs[i].Name, titlePrefix+fs[i].Title
	}
	return fs
}

// Document lays a breakdown out: the period and dimensions (and the period compared with)
// as parameters, the totals (and the year before's) as headline indicators, and one table
// with a key and a label column per dimension, the figures, and with a comparison the
// year before's figures beside them. Its 合计 row has the totals' households and people
// (the period as a whole), the net of every row and the totals' net units.
func (b Breakdown) Document() Document {
	dims := make([]string, len(b.By))
	dimTitles := make([]string, len(b.By))
	for i, by := range b.By {
		dims[i], dimTitles[i] = string(by), dimensionTitle(by)
	}
	d := Document{
		Report:   "breakdown",
		Title:    "分类统计",
		Params:   append(periodFields(b.Period), Field{"by", "维度", Text(strings.Join(dims, ","))}),
		Headline: breakdownTotalsFields(b.Totals, "", ""),
	}
	if b.Previous != nil {
		d.Params = append(d.Params,
			Field{"previous_from", "上年同期起始日", Text(b.Previous.From.String())},
			Field{"previous_to", "上年同期截止日", Text(b.Previous.To.String())})
		d.Headline = append(d.Headline, breakdownTotalsFields(b.Previous.Totals, "previous_", "上年同期")...)
	}
	t := Table{Name: "按" + strings.Join(dimTitles, "、"), Rows: [][]Value{}}
	for i, dim := range dims {
		t.Columns = append(t.Columns, Column{dim, dimTitles[i], KindText}, Column{dim + "_label", dimTitles[i] + "名称", KindText})
	}
	figureColumns := func(prefix, titlePrefix string) {
		for _, c := range []Column{col("households", KindInt), col("people", KindInt), col("net_amount", KindMoney), col("net_units", KindInt)} {
			t.Columns = append(t.Columns, Column{prefix + c.Name, titlePrefix + c.Title, c.Kind})
		}
	}
	figureColumns("", "")
	if b.Previous != nil {
		figureColumns("previous_", "上年同期")
	}
	figures := func(f Figures) []Value {
		return []Value{count(f.Households), count(f.People), Money(f.NetAmount), Int(f.NetUnits)}
	}
	var net, prevNet money.Fen
	for _, r := range b.Rows {
		var cells []Value
		for i := range b.By {
			key, label := "", ""
			if i < len(r.Keys) {
				key = r.Keys[i]
			}
			if i < len(r.Labels) {
				label = r.Labels[i]
			}
			cells = append(cells, Text(key), Text(label))
		}
		cells = append(cells, figures(r.Figures)...)
		net += r.NetAmount
		if b.Previous != nil {
			var prev Figures
			if r.Previous != nil {
				prev = *r.Previous
			}
			cells = append(cells, figures(prev)...)
			prevNet += prev.NetAmount
		}
		t.Rows = append(t.Rows, cells)
	}
	for i := range b.By {
		t.Total = append(t.Total, Text(""), Text(""))
		if i == 0 {
			t.Total[1] = Text("合计")
		}
	}
	t.Total = append(t.Total, figures(Figures{Households: b.Totals.Households, People: b.Totals.People, NetAmount: net, NetUnits: b.Totals.NetUnits})...)
	if b.Previous != nil {
		p := b.Previous.Totals
		t.Total = append(t.Total, figures(Figures{Households: p.Households, People: p.People, NetAmount: prevNet, NetUnits: p.NetUnits})...)
	}
	d.Tables = []Table{t}
	return d
}

// Document lays supplier sales out: the period, the totals as headline indicators, and
// one row per supplier. The 合计 row has the totals' households, people, net units and
// unattributed amount and the net of every row; linked households are not summed (a
// household may be linked to several suppliers), so that cell is empty.
func (s SupplierSales) Document() Document {
	d := Document{
		Report:   "suppliers",
		Title:    "供应商销售",
		Params:   periodFields(s.Period),
		Headline: breakdownTotalsFields(s.Totals, "", ""),
	}
	t := Table{
		Name: "按供应商",
		Columns: []Column{
			col("supplier", KindText), col("label", KindText), col("county", KindText),
			col("households", KindInt), col("people", KindInt), col("net_amount", KindMoney), col("net_units", KindInt),
			col("unattributed_amount", KindMoney), col("linked_households", KindInt),
		},
		Rows: [][]Value{},
	}
	var net money.Fen
	for _, r := range s.Rows {
		net += r.NetAmount
		t.Rows = append(t.Rows, []Value{Text(r.Supplier), Text(r.Label), Text(r.County), count(r.Households), count(r.People),
			Money(r.NetAmount), Int(r.NetUnits), Money(r.UnattributedAmount), count(r.LinkedHouseholds)})
	}
	t.Total = []Value{Text(""), Text("合计"), Text(""), count(s.Totals.Households), count(s.Totals.People),
		Money(net), Int(s.Totals.NetUnits), Money(s.Totals.UnattributedAmount), Text("")}
	d.Tables = []Table{t}
	return d
}

// Document lays unattributed sales out: the period, the unattributed total (and the
// deliveries and refunds behind it) as headline indicators, one row per supplier.
func (u Unattributed) Document() Document {
	var delivered, refunded money.Fen
	rows := [][]Value{}
	for _, r := range u.Rows {
		delivered += r.DeliveredAmount
		refunded += r.RefundedAmount
		rows = append(rows, []Value{Text(r.Supplier), Text(r.Label), Text(r.County),
			Money(r.DeliveredAmount), Money(r.RefundedAmount), Money(r.NetAmount)})
	}
	return Document{
		Report: "unattributed",
		Title:  "未归属销售",
		Params: periodFields(u.Period),
		Headline: []Field{
			{"unattributed_amount", "未归属金额", Money(u.Total)},
			{"delivered_amount", "签收金额", Money(delivered)},
			{"refunded_amount", "退款金额", Money(refunded)},
			{"suppliers", "供应商数", count(len(u.Rows))},
		},
		Tables: []Table{{
			Name: "按供应商",
			Columns: []Column{
				col("supplier", KindText), col("label", KindText), col("county", KindText),
				col("delivered_amount", KindMoney), col("refunded_amount", KindMoney), col("net_amount", KindMoney),
			},
			Rows:  rows,
			Total: []Value{Text(""), Text("合计"), Text(""), Money(delivered), Money(refunded), Money(u.Total)},
		}},
	}
}

// Document lays branch spending out: the period, the sums as headline indicators, one row
// per branch and month, and the report's totals as the 合计 row.
func (s Spending) Document() Document {
	t := s.Totals
	d := Document{
		Report: "spending",
		Title:  "单位月度支出",
		Params: periodFields(s.Period),
		Headline: []Field{
			{"placed_amount", "下单金额", Money(t.Placed)},
			{"delivered_amount", "签收金额", Money(t.Delivered)},
			{"refunded_amount", "退款金额", Money(t.Refunded)},
			{"cancelled_amount", "取消或拒单金额", Money(t.Cancelled)},
		},
	}
	cancelled := col("cancelled_amount", KindMoney)
	cancelled.Title = "取消或拒单金额"
	tab := Table{
		Name: "按工会单位、月份",
		Columns: []Column{
			col("branch", KindText), col("label", KindText), col("month", KindText),
			col("placed_amount", KindMoney), col("delivered_amount", KindMoney), col("refunded_amount", KindMoney), cancelled,
		},
		Rows: [][]Value{},
	}
	row := func(r SpendingRow) []Value {
		return []Value{Text(r.Branch), Text(r.Label), Text(r.Month), Money(r.Placed), Money(r.Delivered), Money(r.Refunded), Money(r.Cancelled)}
	}
	for _, r := range s.Rows {
		tab.Rows = append(tab.Rows, row(r))
	}
	t.Branch, t.Label, t.Month = "", "合计", ""
	tab.Total = row(t)
	d.Tables = []Table{tab}
	return d
}
