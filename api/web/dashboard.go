package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/money"
	"aidmall/orders"
	"aidmall/reports"
)

// DashboardReports is what the dashboard reads: the report set's indicators and
// breakdowns, the same methods GET /v1/reports/indicators and /v1/reports/breakdown
// answer with (adapters/sqlstore's Store, or the labelled wrapper cmd gives the API), so
// every figure on the dashboard is a figure of those reports.
type DashboardReports interface {
	Indicators(ctx context.Context, year int) (reports.Indicators, error)
	Breakdown(ctx context.Context, q reports.BreakdownQuery) (reports.Breakdown, error)
}

// dashboardPages adds the dashboard (the group for the aid office and auditors, their
// branch for branch staff), its exports and its live updates.
func (s *Server) dashboardPages(g pageGroup) {
	if s.cfg.Dashboard == nil {
		return
	}
	see := s.requireRole(canSeeDashboard)
	g.GET("/dashboard", s.dashboard, see)
	g.GET("/dashboard/events", s.dashboardEvents, see)
}

// canSeeDashboard: report readers see the group; branch staff their own branch.
func canSeeDashboard(c orders.Caller) bool {
	return c.CanReadReports() || (c.Role == orders.RoleBranchStaff && c.BranchCode != "")
}

// dashboardScope is whose figures a viewer sees: the group ("") or one branch's.
func dashboardScope(v Viewer) string {
	if v.Role == orders.RoleBranchStaff {
		return v.BranchCode
	}
	return ""
}

// periodSelector is the dashboard's period selector as typed: a year with an optional
// quarter or month, or a range of days (which wins when given).
type periodSelector struct {
	Year, Quarter, Month, From, To string
}

// dashboardData is the dashboard template's data.
type dashboardData struct {
	Form     periodSelector
	Errors   map[string]string // a Chinese message per bad field of the form
	Branch   string            // the branch shown, "" for the group
	Scope    string            // 集团 or the branch's name
	Period   reports.Period
	Year     int // the year of the indicators (budgets and targets)
	Cards    []card
	Tables   []tableView
	Charts   chartData
	Quarters []string
	Months   []string
}

// card is one headline figure.
type card struct{ Label, Value, Note string }

// dashboard is GET /dashboard?year=&quarter=&month=&from=&to= (and format=xlsx|csv with
// table=N for a table's download).
func (s *Server) dashboard(c echo.Context) error {
	v, _ := viewerFrom(c)
	ctx := c.Request().Context()
	branch := dashboardScope(v)
	data := dashboardData{Branch: branch, Scope: "集团", Errors: map[string]string{},
		Quarters: []string{"1", "2", "3", "4"}, Months: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}}
	q := c.QueryParams()
	data.Form = periodSelector{Year: strings.TrimSpace(q.Get("year")), Quarter: q.Get("quarter"), Month: q.Get("month"),
		From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to"))}
	if data.Form == (periodSelector{}) {
		y, err := s.defaultYear(ctx, branch)
		if err != nil {
			return s.fail(c, err)
		}
		data.Form.Year = strconv.Itoa(y)
	}
	p, bad := readPeriodSelector(data.Form)
	if len(bad) > 0 {
		data.Errors = bad
		return s.render(c, http.StatusBadRequest, "dashboard.html", Page{Title: "帮扶统计", Error: "统计期间有误，请按提示修改。", Data: data})
	}
	data.Period, data.Year = p, p.From.Start().Year()
	fig, err := s.dashboardFigures(ctx, branch, p, data.Year)
	if err != nil {
		return s.fail(c, err)
	}
	doc := fig.document()
	if done, err := s.download(c, doc); done {
		return err
	}
	if branch != "" {
		data.Scope = branch
		if fig.indicator != nil {
			data.Scope = fig.indicator.Label
		}
	}
	data.Cards, data.Charts, data.Tables = fig.cards(), fig.charts(), s.tablesOf(c, doc)
	title := "帮扶统计"
	if branch != "" {
		title = "本单位统计"
	}
	return s.render(c, http.StatusOK, "dashboard.html", Page{Title: title, Data: data})
}

// readPeriodSelector turns the selector into a report period (reports.ParsePeriod, as the
// API reads year=, quarter=2019Q1, month=2019-03 or from= and to=), or the Chinese
// message of each bad field.
func readPeriodSelector(f periodSelector) (reports.Period, map[string]string) {
	bad := map[string]string{}
	var pp reports.PeriodParams
	switch {
	case f.From != "" || f.To != "":
		pp.From, pp.To = f.From, f.To
		if f.From == "" {
			bad["from"] = "请填写起始日期（如 2019-01-01）。"
		}
		if f.To == "" {
			bad["to"] = "请填写截止日期（如 2019-12-31）。"
		}
	default:
		y, err := reports.ParseYear(f.Year)
		if err != nil {
			bad["year"] = "年度请填写四位数字，如 2019。"
			break
		}
		switch {
		case f.Quarter != "" && f.Month != "":
			bad["month"] = "季度和月份只能选一个。"
		case f.Month != "":
			m, err := strconv.Atoi(f.Month)
			if err != nil || m < 1 || m > 12 {
				bad["month"] = "月份请选 1 至 12 月。"
			}
			pp.Month = fmt.Sprintf("%04d-%02d", y, m)
		case f.Quarter != "":
			n, err := strconv.Atoi(f.Quarter)
			if err != nil || n < 1 || n > 4 {
				bad["quarter"] = "季度请选第一至第四季度。"
			}
			pp.Quarter = fmt.Sprintf("%04dQ%d", y, n)
		default:
			pp.Year = strconv.Itoa(y)
		}
	}
	if len(bad) > 0 {
		return reports.Period{}, bad
	}
	p, err := reports.ParsePeriod(pp)
	var ve *orders.ValidationError
	switch {
	case err == nil:
		return p, nil
	case errors.As(err, &ve):
		for _, fe := range ve.Fields {
			switch fe.Pointer {
			case "/from":
				bad["from"] = "起始日期请写成 YYYY-MM-DD，如 2019-01-01。"
			case "/to":
				bad["to"] = "截止日期请写成 YYYY-MM-DD，且不早于起始日期。"
			case "/month":
				bad["month"] = "月份有误。"
			case "/quarter":
				bad["quarter"] = "季度有误。"
			default:
				bad["year"] = "年度有误。"
			}
		}
	default:
		bad["year"] = "统计期间有误。"
	}
	return reports.Period{}, bad
}

// defaultYear is the current year in Beijing time or, when branch (or the group, "") has
// no figures in it, the latest year that has.
func (s *Server) defaultYear(ctx context.Context, branch string) (int, error) {
	today := bizday.Of(s.now())
	y := today.Start().Year()
	months, err := s.cfg.Dashboard.Breakdown(ctx, reports.BreakdownQuery{
		Period: reports.Period{From: bizday.MustParse("2000-01-01"), To: reports.YearPeriod(y).To}, By: []reports.By{reports.ByBranch, reports.ByMonth}})
	if err != nil {
		return 0, err
	}
	latest := 0
	for _, r := range months.Rows {
		if (branch != "" && r.Keys[0] != branch) || len(r.Keys[1]) < 4 {
			continue
		}
		n, err := strconv.Atoi(r.Keys[1][:4])
		if err != nil {
			continue
		}
		if n == y {
			return y, nil
		}
		latest = max(latest, n)
	}
	if latest == 0 {
		return y, nil
	}
	return latest, nil
}

// figures are the dashboard's reports for one scope and period: breakdowns by county,
// category, month and funding (for a branch, its rows of the branch × dimension
// breakdowns, with the by=branch row as their total), and the year's indicators (for a
// branch, its row).
type figures struct {
	branch     string
	period     reports.Period
	year       int
	totals     reports.BreakdownTotals // the group's totals (group scope)
	own        reports.Figures         // the branch's by=branch row (branch scope)
	county     reports.Breakdown
	category   reports.Breakdown
	month      reports.Breakdown
	funding    reports.Breakdown
	ind        reports.Indicators
	indicator  *reports.IndicatorRow // the branch's row of ind (branch scope)
	mallLabels map[string]string
}

var dashboardDimensions = []reports.By{reports.ByCounty, reports.ByCategory, reports.ByMonth, reports.ByFunding}

// dashboardFigures reads the reports of the dashboard: for the group, the breakdowns by
// each dimension; for a branch, the breakdowns by branch and by branch × each dimension,
// keeping only its rows (so it never reads another branch's figures into the page).
func (s *Server) dashboardFigures(ctx context.Context, branch string, p reports.Period, year int) (*figures, error) {
	f := &figures{branch: branch, period: p, year: year}
	ind, err := s.cfg.Dashboard.Indicators(ctx, year)
	if err != nil {
		return nil, fmt.Errorf("dashboard indicators: %w", err)
	}
	f.ind = ind
	if branch != "" {
		for i := range ind.Branches {
			if ind.Branches[i].Branch == branch {
				r := ind.Branches[i]
				f.indicator = &r
			}
		}
		own, err := s.cfg.Dashboard.Breakdown(ctx, reports.BreakdownQuery{Period: p, By: []reports.By{reports.ByBranch}})
		if err != nil {
			return nil, fmt.Errorf("dashboard by branch: %w", err)
		}
		for _, r := range own.Rows {
			if r.Keys[0] == branch {
				f.own = r.Figures
			}
		}
	}
	out := []*reports.Breakdown{&f.county, &f.category, &f.month, &f.funding}
	for i, d := range dashboardDimensions {
		q := reports.BreakdownQuery{Period: p, By: []reports.By{d}}
		if branch != "" {
			q.By = []reports.By{reports.ByBranch, d}
		}
		b, err := s.cfg.Dashboard.Breakdown(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("dashboard by %s: %w", d, err)
		}
		if branch != "" {
			b = branchRows(b, branch, f.own)
		} else {
			f.totals = b.Totals
		}
		*out[i] = b
	}
	return f, nil
}

// branchRows is b (a breakdown by branch × one dimension) reduced to branch's rows keyed
// by the second dimension alone, with the branch's own figures (its by=branch row) as the
// totals: every figure is one of b's rows or of the by=branch breakdown, none computed.
func branchRows(b reports.Breakdown, branch string, own reports.Figures) reports.Breakdown {
	out := reports.Breakdown{Period: b.Period, Timezone: b.Timezone, By: b.By[1:], Rows: []reports.BreakdownRow{}}
	out.Totals.Households, out.Totals.People, out.Totals.NetUnits = own.Households, own.People, own.NetUnits
	for _, r := range b.Rows {
		if r.Keys[0] != branch {
			continue
		}
		out.Rows = append(out.Rows, reports.BreakdownRow{Keys: r.Keys[1:], Labels: r.Labels[1:], Figures: r.Figures})
	}
	return out
}

// document lays the dashboard out as one reports.Document: an overview, the year's
// indicators (targets and budgets), and a table per breakdown, each the report's own
// layout (reports.Breakdown.Document, reports.Indicators.Document).
func (f *figures) document() reports.Document {
	scope := "group"
	if f.branch != "" {
		scope = f.branch
	}
	d := reports.Document{Report: "dashboard", Title: "帮扶统计",
		Params: []reports.Field{
			{Name: "from", Title: "起始日", Value: reports.Text(f.period.From.String())},
			{Name: "to", Title: "截止日", Value: reports.Text(f.period.To.String())},
			{Name: "timezone", Title: "时区", Value: reports.Text(reports.Timezone)},
			{Name: "scope", Title: "范围", Value: reports.Text(scope)},
		}}
	overview := reports.Table{Name: "概览", Rows: [][]reports.Value{}}
	if f.branch == "" {
		t := f.totals
		overview.Columns = []reports.Column{{Name: "households", Title: "受益户数", Kind: reports.KindInt}, {Name: "people", Title: "受益人数", Kind: reports.KindInt},
			{Name: "purchased_amount", Title: "购买金额", Kind: reports.KindMoney}, {Name: "helped_sell_amount", Title: "帮助销售金额", Kind: reports.KindMoney},
			{Name: "net_units", Title: "净数量", Kind: reports.KindInt}}
		overview.Rows = append(overview.Rows, []reports.Value{reports.Int(int64(t.Households)), reports.Int(int64(t.People)),
			reports.Money(t.PurchasedAmount), reports.Money(t.HelpedSellAmount), reports.Int(t.NetUnits)})
		d.Headline = f.county.Document().Headline
	} else {
		o := f.own
		overview.Columns = []reports.Column{{Name: "households", Title: "受益户数", Kind: reports.KindInt}, {Name: "people", Title: "受益人数", Kind: reports.KindInt},
			{Name: "net_amount", Title: "净额", Kind: reports.KindMoney}, {Name: "net_units", Title: "净数量", Kind: reports.KindInt}}
		overview.Rows = append(overview.Rows, []reports.Value{reports.Int(int64(o.Households)), reports.Int(int64(o.People)), reports.Money(o.NetAmount), reports.Int(o.NetUnits)})
		d.Headline = []reports.Field{{Name: "households", Title: "受益户数", Value: reports.Int(int64(o.Households))},
			{Name: "people", Title: "受益人数", Value: reports.Int(int64(o.People))}, {Name: "net_amount", Title: "净额", Value: reports.Money(o.NetAmount)}}
	}
	d.Tables = append(d.Tables, overview)
	ind := f.ind.Document().Tables[0]
	ind.Name = fmt.Sprintf("%d年指标与预算", f.year)
	if f.branch != "" {
		all := ind.Rows
		ind.Rows, ind.Total = [][]reports.Value{}, nil
		for i, r := range f.ind.Branches {
			if r.Branch == f.branch {
				ind.Rows = append(ind.Rows, all[i])
			}
		}
	} else {
		d.Tables = append(d.Tables, targetTable(f.ind))
	}
	d.Tables = append(d.Tables, ind)
	for _, b := range []reports.Breakdown{f.county, f.category, f.month, f.funding} {
		d.Tables = append(d.Tables, b.Document().Tables[0])
	}
	return d
}

// targetTable is the year's targets with what the group reached (the indicators' own
// figures and percentages); empty when no target is set.
func targetTable(x reports.Indicators) reports.Table {
	t := reports.Table{Name: fmt.Sprintf("%d年目标完成", x.Year), Rows: [][]reports.Value{},
		Columns: []reports.Column{{Name: "item", Title: "项目", Kind: reports.KindText}, {Name: "target", Title: "年度目标", Kind: reports.KindMoney},
			{Name: "reached", Title: "已完成", Kind: reports.KindMoney}, {Name: "percent", Title: "完成比例", Kind: reports.KindPercent}}}
	if tp := x.Target; tp != nil {
		t.Rows = append(t.Rows,
			[]reports.Value{reports.Text("购买"), reports.Money(tp.PurchasedAmount), reports.Money(x.Group.PurchasedAmount), reports.PercentValue(tp.PurchasedPercent)},
			[]reports.Value{reports.Text("帮助销售"), reports.Money(tp.HelpedSellAmount), reports.Money(x.Group.HelpedSellAmount), reports.PercentValue(tp.HelpedSellPercent)})
	}
	return t
}

// cards are the headline figures.
func (f *figures) cards() []card {
	yearNote := fmt.Sprintf("%d年", f.year)
	if f.branch != "" {
		o := f.own
		cs := []card{{"受益户数", strconv.Itoa(o.Households), "本期"}, {"受益人数", strconv.Itoa(o.People), "本期"}, {"帮扶金额（净额）", yuan(o.NetAmount), "本期"}}
		if r := f.indicator; r != nil {
			cs = append(cs, card{"购买金额", yuan(r.PurchasedAmount), yearNote + "全年"}, card{"帮助销售金额", yuan(r.HelpedSellAmount), yearNote + "全年"})
			if r.Budget != nil {
				cs = append(cs, card{"预算使用", yuan(r.Used) + " / " + yuan(*r.Budget), percentNote(r.UsedPercent)})
			} else {
				cs = append(cs, card{"预算使用", yuan(r.Used), "无预算"})
			}
		}
		return cs
	}
	t := f.totals
	cs := []card{{"受益户数", strconv.Itoa(t.Households), "本期"}, {"受益人数", strconv.Itoa(t.People), "本期"},
		{"购买金额", yuan(t.PurchasedAmount), "本期"}, {"帮助销售金额", yuan(t.HelpedSellAmount), "本期"}}
	if tp := f.ind.Target; tp != nil {
		cs = append(cs,
			card{yearNote + "购买目标", yuan(tp.PurchasedAmount), "已完成 " + percentNote(tp.PurchasedPercent)},
			card{yearNote + "帮助销售目标", yuan(tp.HelpedSellAmount), "已完成 " + percentNote(tp.HelpedSellPercent)})
	} else {
		cs = append(cs, card{yearNote + "目标", "未设定", ""})
	}
	return cs
}

func percentNote(p *string) string {
	if p == nil {
		return "—"
	}
	return *p + "%"
}

// chartData is what static/dashboard.js draws, embedded in the page as JSON (a data
// block, not a script): each chart's labels with its amounts in yuan ("1234.56") and
// their text as the tables write them ("¥1,234.56").
type chartData struct {
	County   chartSeries  `json:"county"`
	Category chartSeries  `json:"category"`
	Month    chartSeries  `json:"month"`
	Budget   *budgetChart `json:"budget,omitempty"`
}

type chartSeries struct {
	Title  string   `json:"title"`
	Labels []string `json:"labels"`
	Values []string `json:"values"`
	Texts  []string `json:"texts"`
}

// budgetChart is each branch's budget use: used and budget ("" for none).
type budgetChart struct {
	Title   string   `json:"title"`
	Labels  []string `json:"labels"`
	Used    []string `json:"used"`
	Budgets []string `json:"budgets"`
}

func series(title string, b reports.Breakdown) chartSeries {
	s := chartSeries{Title: title, Labels: []string{}, Values: []string{}, Texts: []string{}}
	for _, r := range b.Rows {
		s.Labels = append(s.Labels, r.Labels[0])
		s.Values = append(s.Values, r.NetAmount.String())
		s.Texts = append(s.Texts, yuan(r.NetAmount))
	}
	return s
}

func (f *figures) charts() chartData {
	c := chartData{County: series("按县帮扶金额", f.county), Category: series("按品类帮扶金额", f.category), Month: series("按月份帮扶金额", f.month)}
	if f.branch == "" {
		bc := &budgetChart{Title: fmt.Sprintf("%d年各单位预算使用", f.year), Labels: []string{}, Used: []string{}, Budgets: []string{}}
		for _, r := range f.ind.Branches {
			bc.Labels = append(bc.Labels, r.Label)
			bc.Used = append(bc.Used, r.Used.String())
			b := ""
			if r.Budget != nil {
				b = money.Fen(*r.Budget).String()
			}
			bc.Budgets = append(bc.Budgets, b)
		}
		c.Budget = bc
	}
	return c
}
