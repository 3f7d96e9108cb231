package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"aidmall/money"
)

// Grid is the table shape every report (beyond the benefit report, which has its own
// renderers) is rendered through: a title, the parameters, the headline figures, named
// columns with a kind (so a spreadsheet can write money as numbers), the rows as text
// cells and a totals row. The generic renderers of issue 6 (CSV with BOM/GB18030, XLSX,
// human tables) take this shape; WriteGridCSV and WriteGridTable are today's.
type Grid struct {
	Title    string      // e.g. "消费帮扶指标 Responsibility-letter indicators"
	Params   [][2]string // (name, value), e.g. ("年度 year", "2019")
	Headline [][2]string // (name, value) of the headline figures
	Columns  []Column
	Rows     [][]string
	Total    []string // the totals row (same columns), nil when the report has none
}

// ColumnKind says how a column's cells read.
type ColumnKind int

const (
	KindText    ColumnKind = iota // text, left-aligned
	KindInt                       // whole number
	KindMoney                     // yuan with two decimals ("680.00"); "" when absent
	KindPercent                   // percent with two decimals ("12.35"); "" when absent
)

// Column is a grid column: Name is its JSON field name, Header its Chinese and English
// heading.
type Column struct {
	Name   string
	Header string
	Kind   ColumnKind
}

func fen(f money.Fen) string { return f.String() }
func itoa(n int) string      { return strconv.Itoa(n) }
func i64(n int64) string     { return strconv.FormatInt(n, 10) }
func optFen(f *money.Fen) string {
	if f == nil {
		return ""
	}
	return f.String()
}
func optStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// WriteGridCSV writes g's columns' names as a header, its rows and its totals row as
// UTF-8 CSV (RFC 4180).
func WriteGridCSV(w io.Writer, g Grid) error {
	cw := csv.NewWriter(w)
	head := make([]string, len(g.Columns))
	for i, c := range g.Columns {
		head[i] = c.Name
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range g.Rows {
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	if g.Total != nil {
		if err := cw.Write(g.Total); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteGridTable writes g for a terminal: title, parameters, headline figures, then the
// rows and totals as an aligned table (display width, numbers right-aligned).
func WriteGridTable(w io.Writer, g Grid) error {
	var sb strings.Builder
	sb.WriteString(g.Title + "\n")
	if len(g.Params) > 0 {
		writeGrid(&sb, pairs(g.Params), []bool{false, false})
	}
	if len(g.Headline) > 0 {
		sb.WriteString("\n")
		writeGrid(&sb, pairs(g.Headline), []bool{false, true})
	}
	sb.WriteString("\n")
	right := make([]bool, len(g.Columns))
	head := make([]string, len(g.Columns))
	for i, c := range g.Columns {
		right[i] = c.Kind != KindText
		head[i] = c.Header
	}
	cells := append([][]string{head}, g.Rows...)
	if g.Total != nil {
		cells = append(cells, g.Total)
	}
	writeGrid(&sb, cells, right)
	_, err := io.WriteString(w, sb.String())
	return err
}

func pairs(ps [][2]string) [][]string {
	out := make([][]string, len(ps))
	for i, p := range ps {
		out[i] = []string{p[0], p[1]}
	}
	return out
}

// WriteAnyJSON writes v as indented JSON with a newline, as WriteJSON does.
func WriteAnyJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func periodParams(p Period) [][2]string {
	return [][2]string{{"期间 period", fmt.Sprintf("%s .. %s (%s)", p.From, p.To, Timezone)}}
}

// Grid renders the indicators: one row per branch, the group as totals.
func (x Indicators) Grid() Grid {
	g := Grid{Title: "消费帮扶指标 Responsibility-letter indicators",
		Params: append([][2]string{{"年度 year", itoa(x.Year)}}, periodParams(x.Period)...),
		Columns: []Column{
			{"branch", "单位 branch", KindText}, {"label", "名称 name", KindText},
			{"purchased_amount", "购买 purchased", KindMoney}, {"helped_sell_amount", "帮助销售 helped to sell", KindMoney},
			{"households", "受益户数 households", KindInt}, {"people", "受益人口 people", KindInt},
			{"budget", "预算 budget", KindMoney}, {"used", "已用 used", KindMoney}, {"used_percent", "使用率% used", KindPercent},
		}}
	row := func(r IndicatorRow) []string {
		b := optFen(r.Budget)
		if r.Budget == nil {
			b = r.BudgetNote
		}
		return []string{r.Branch, r.Label, fen(r.PurchasedAmount), fen(r.HelpedSellAmount), itoa(r.Households), itoa(r.People), b, fen(r.Used), optStr(r.UsedPercent)}
	}
	for _, r := range x.Branches {
		g.Rows = append(g.Rows, row(r))
	}
	g.Total = row(x.Group)
	g.Headline = [][2]string{
		{"购买 purchased (yuan)", fen(x.Group.PurchasedAmount)}, {"帮助销售 helped to sell (yuan)", fen(x.Group.HelpedSellAmount)},
		{"受益户数 households", itoa(x.Group.Households)}, {"受益人口 people", itoa(x.Group.People)},
	}
	if t := x.Target; t != nil {
		g.Headline = append(g.Headline,
			[2]string{"购买目标 purchased target (yuan)", fen(t.PurchasedAmount)}, [2]string{"购买完成% reached", optStr(t.PurchasedPercent)},
			[2]string{"帮助销售目标 helped-to-sell target (yuan)", fen(t.HelpedSellAmount)}, [2]string{"帮助销售完成% reached", optStr(t.HelpedSellPercent)})
	} else {
		g.Headline = append(g.Headline, [2]string{"年度目标 targets", "not set"})
	}
	return g
}

// Grid renders a breakdown: the key and label of each dimension, the figures, and with a
// comparison the previous figures beside them.
func (b Breakdown) Grid() Grid {
	g := Grid{Title: "分类统计 Breakdown", Params: periodParams(b.Period)}
	dims := make([]string, len(b.By))
	for i, d := range b.By {
		dims[i] = string(d)
		g.Columns = append(g.Columns, Column{string(d), string(d), KindText}, Column{string(d) + "_label", "名称 label", KindText})
	}
	g.Params = append(g.Params, [2]string{"维度 by", strings.Join(dims, ",")})
	g.Columns = append(g.Columns, Column{"households", "户数 households", KindInt}, Column{"people", "人口 people", KindInt},
		Column{"net_amount", "净额 net (yuan)", KindMoney}, Column{"net_units", "净数量 net units", KindInt})
	if b.Previous != nil {
		g.Params = append(g.Params, [2]string{"同期 compared with", fmt.Sprintf("%s .. %s", b.Previous.From, b.Previous.To)})
		g.Columns = append(g.Columns, Column{"previous_households", "同期户数 households", KindInt}, Column{"previous_people", "同期人口 people", KindInt},
			Column{"previous_net_amount", "同期净额 net (yuan)", KindMoney}, Column{"previous_net_units", "同期净数量 net units", KindInt})
	}
	figs := func(f Figures) []string {
		return []string{itoa(f.Households), itoa(f.People), fen(f.NetAmount), i64(f.NetUnits)}
	}
	for _, r := range b.Rows {
		var cells []string
		for i := range r.Keys {
			cells = append(cells, r.Keys[i], r.Labels[i])
		}
		cells = append(cells, figs(r.Figures)...)
		if b.Previous != nil && r.Previous != nil {
			cells = append(cells, figs(*r.Previous)...)
		}
		g.Rows = append(g.Rows, cells)
	}
	totalFigs := func(t BreakdownTotals) []string {
		return figs(Figures{Households: t.Households, People: t.People, NetAmount: t.PurchasedAmount + t.HelpedSellAmount, NetUnits: t.NetUnits})
	}
	g.Total = make([]string, 2*len(b.By))
	g.Total[1] = "合计"
	g.Total = append(g.Total, totalFigs(b.Totals)...)
	if b.Previous != nil {
		g.Total = append(g.Total, totalFigs(b.Previous.Totals)...)
	}
	g.Headline = totalsHeadline(b.Totals)
	return g
}

func totalsHeadline(t BreakdownTotals) [][2]string {
	return [][2]string{
		{"受益户数 households", itoa(t.Households)}, {"受益人口 people", itoa(t.People)},
		{"购买金额 purchased (yuan)", fen(t.PurchasedAmount)}, {"帮助销售金额 helped to sell (yuan)", fen(t.HelpedSellAmount)},
		{"未归属金额 unattributed (yuan)", fen(t.UnattributedAmount)}, {"净数量 net units", i64(t.NetUnits)},
	}
}

// Grid renders supplier sales.
func (s SupplierSales) Grid() Grid {
	g := Grid{Title: "供应商销售 Supplier sales", Params: periodParams(s.Period), Headline: totalsHeadline(s.Totals),
		Columns: []Column{{"supplier", "供应商 supplier", KindText}, {"label", "名称 name", KindText}, {"county", "县 county", KindText},
			{"households", "受益户数 households", KindInt}, {"people", "受益人口 people", KindInt}, {"net_amount", "净额 net (yuan)", KindMoney},
			{"net_units", "净数量 net units", KindInt}, {"unattributed_amount", "未归属 unattributed (yuan)", KindMoney},
			{"linked_households", "联结户数 linked households", KindInt}}}
	var net, un money.Fen
	for _, r := range s.Rows {
		net += r.NetAmount
		un += r.UnattributedAmount
		g.Rows = append(g.Rows, []string{r.Supplier, r.Label, r.County, itoa(r.Households), itoa(r.People), fen(r.NetAmount), i64(r.NetUnits), fen(r.UnattributedAmount), itoa(r.LinkedHouseholds)})
	}
	g.Total = []string{"", "合计", "", itoa(s.Totals.Households), itoa(s.Totals.People), fen(net), i64(s.Totals.NetUnits), fen(un), ""}
	return g
}

// Grid renders unattributed sales by supplier.
func (u Unattributed) Grid() Grid {
	g := Grid{Title: "未归属销售 Unattributed sales by supplier", Params: periodParams(u.Period),
		Headline: [][2]string{{"未归属金额 unattributed (yuan)", fen(u.Total)}},
		Columns: []Column{{"supplier", "供应商 supplier", KindText}, {"label", "名称 name", KindText}, {"county", "县 county", KindText},
			{"delivered_amount", "签收 delivered (yuan)", KindMoney}, {"refunded_amount", "退款 refunded (yuan)", KindMoney}, {"net_amount", "净额 net (yuan)", KindMoney}}}
	var d, r money.Fen
	for _, x := range u.Rows {
		d += x.DeliveredAmount
		r += x.RefundedAmount
		g.Rows = append(g.Rows, []string{x.Supplier, x.Label, x.County, fen(x.DeliveredAmount), fen(x.RefundedAmount), fen(x.NetAmount)})
	}
	g.Total = []string{"", "合计", "", fen(d), fen(r), fen(u.Total)}
	return g
}

// Grid renders branch spending by month.
func (s Spending) Grid() Grid {
	g := Grid{Title: "单位月度支出 Branch spending by month", Params: periodParams(s.Period),
		Columns: []Column{{"branch", "单位 branch", KindText}, {"label", "名称 name", KindText}, {"month", "月份 month", KindText},
			{"placed_amount", "下单 placed (yuan)", KindMoney}, {"delivered_amount", "签收 delivered (yuan)", KindMoney},
			{"refunded_amount", "退款 refunded (yuan)", KindMoney}, {"cancelled_amount", "取消/拒绝 cancelled (yuan)", KindMoney}}}
	row := func(r SpendingRow) []string {
		return []string{r.Branch, r.Label, r.Month, fen(r.Placed), fen(r.Delivered), fen(r.Refunded), fen(r.Cancelled)}
	}
	for _, r := range s.Rows {
		g.Rows = append(g.Rows, row(r))
	}
	t := s.Totals
	t.Label = "合计"
	g.Total = row(t)
	g.Headline = [][2]string{{"下单 placed (yuan)", fen(t.Placed)}, {"签收 delivered (yuan)", fen(t.Delivered)},
		{"退款 refunded (yuan)", fen(t.Refunded)}, {"取消/拒绝 cancelled (yuan)", fen(t.Cancelled)}}
	return g
}
