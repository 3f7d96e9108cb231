package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"aidmall/adapters/sqlstore"
	"aidmall/adapters/sqlstore/sqltest"
	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
	"aidmall/reports"
)

var office = orders.Caller{Name: "test", Role: orders.RoleAidOffice}

// place places a back-dated CCB order of branch for qty of sku with funding.
func (s *site) place(t *testing.T, branch, ref, sku string, qty int64, funding orders.Funding, at time.Time) *orders.GroupOrder {
	t.Helper()
	o, err := s.svc.Place(context.Background(), office, orders.PlaceRequest{
		OrderRef: ref, BranchCode: branch, Mall: "ccb", Funding: funding, DeliveryMode: orders.DeliveryBulk,
		ShipTo: orders.ShipTo{Name: "王芳", Phone: "13800001234", Address: "北京市西城区"},
		Lines:  []orders.PlaceLine{{SKU: sku, Quantity: qty}}, PlacedAt: &at,
	})
	if err != nil {
		t.Fatalf("place %s: %v", ref, err)
	}
	return o
}

// deliver applies the mall's acceptance and delivery of o's whole line, an hour and two
// after it was placed, as its notifications would.
func (s *site) deliver(t *testing.T, o *orders.GroupOrder) {
	t.Helper()
	for i, typ := range []orders.EventType{orders.EventAccepted, orders.EventDelivered} {
		ev := orders.FulfilmentEvent{Mall: o.Mall, EventID: orders.MallEventID(string(o.OutOrderNo) + "-" + string(typ)), Type: typ,
			OutOrderNo: o.OutOrderNo, MallOrderNo: "M-" + string(o.OutOrderNo), OccurredAt: o.PlacedAt.Add(time.Duration(i+1) * time.Hour)}
		if typ != orders.EventAccepted {
			ev.LineNo, ev.Quantity = 1, o.Lines[0].Quantity
		}
		if _, err := s.svc.Apply(context.Background(), ev); err != nil {
			t.Fatalf("apply %s to %s: %v", typ, o.OrderRef, err)
		}
	}
}

// seedYear gives the site a second branch and a 2019 of deliveries: HQ buys apples (P1,
// 宜川县, linked to three households) with union funds in March and its staff buy more
// with their own money in May; S01 buys walnuts (P2, 定边县, no linked household) in June.
// HQ has a 2019 budget, S01 none; the group has 2019 targets.
func seedYear(t *testing.T, s *site) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.st.UpsertBranches(ctx, []households.Branch{{Code: "S01", Name: "第一分公司工会", Company: "第一分公司", Members: 20}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.svc.SetBudget(ctx, office, "HQ", 2019, 50_000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.st.SetTarget(ctx, reports.Target{Year: 2019, PurchasedAmount: 100_000, HelpedSellAmount: 30_000, SetBy: "test", SetAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	bj := func(m time.Month, d int) time.Time { return time.Date(2019, m, d, 10, 0, 0, 0, bizday.Beijing) }
	s.deliver(t, s.place(t, "HQ", "2019-HQ-1", "P1", 3, orders.FundingUnion, bj(3, 4)))
	s.deliver(t, s.place(t, "HQ", "2019-HQ-2", "P1", 2, orders.FundingEmployeePays, bj(5, 8)))
	s.deliver(t, s.place(t, "S01", "2019-S01-1", "P2", 4, orders.FundingUnion, bj(6, 10)))
}

// apiJSON gets path from the /v1 API with an aid_office key and decodes its JSON.
func (s *site) apiJSON(t *testing.T, path string, into any) {
	t.Helper()
	token, _, err := s.st.CreateAPIKey(context.Background(), "dashboard-test", orders.RoleAidOffice, "")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// The JSON reports as the API writes them (money as yuan strings).
type jsonFigures struct {
	Households int    `json:"households"`
	People     int    `json:"people"`
	NetAmount  string `json:"net_amount"`
	NetUnits   int64  `json:"net_units"`
}

type jsonBreakdown struct {
	Totals struct {
		Households       int    `json:"households"`
		People           int    `json:"people"`
		PurchasedAmount  string `json:"purchased_amount"`
		HelpedSellAmount string `json:"helped_sell_amount"`
		NetUnits         int64  `json:"net_units"`
	} `json:"totals"`
	Rows []struct {
		Keys   []string `json:"keys"`
		Labels []string `json:"labels"`
		jsonFigures
	} `json:"rows"`
}

type jsonIndicatorRow struct {
	Branch           string  `json:"branch"`
	Label            string  `json:"label"`
	PurchasedAmount  string  `json:"purchased_amount"`
	HelpedSellAmount string  `json:"helped_sell_amount"`
	Households       int     `json:"households"`
	People           int     `json:"people"`
	Budget           *string `json:"budget"`
	Used             string  `json:"used"`
	UsedPercent      *string `json:"used_percent"`
}

type jsonIndicators struct {
	Group    jsonIndicatorRow   `json:"group"`
	Branches []jsonIndicatorRow `json:"branches"`
	Target   *struct {
		PurchasedAmount   string  `json:"purchased_amount"`
		HelpedSellAmount  string  `json:"helped_sell_amount"`
		PurchasedPercent  *string `json:"purchased_percent"`
		HelpedSellPercent *string `json:"helped_sell_percent"`
	} `json:"target"`
}

// yuanText writes the API's "1234.56" as a page writes money: ¥1,234.56.
func yuanText(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + "¥" + b.String() + "." + frac
}

func fenOf(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return n
}

func fenText(n int64) string { return fmt.Sprintf("%d.%02d", n/100, n%100) }

func itoa(n int) string { return strconv.Itoa(n) }

func percentText(p *string) string {
	if p == nil {
		return ""
	}
	return *p + "%"
}

// pageTable is one table of a page as a person reads it: its rows' and 合计 row's cell
// texts and its download links.
type pageTable struct {
	Rows      [][]string
	Total     []string
	XLSX, CSV string
}

var (
	figureRE  = regexp.MustCompile(`(?s)<figure class="table">.*?</figure>`)
	captionRE = regexp.MustCompile(`(?s)<figcaption><span>(.*?)</span>`)
	linkRE    = regexp.MustCompile(`<a href="([^"]*)" download>(Excel \(XLSX\)|CSV)</a>`)
	bodyRE    = regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`)
	footRE    = regexp.MustCompile(`(?s)<tfoot>(.*?)</tfoot>`)
	rowRE     = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cellRE    = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
)

func cells(row string) []string {
	var out []string
	for _, m := range cellRE.FindAllStringSubmatch(row, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// tablesOf reads every table of a page by its caption.
func tablesOf(t *testing.T, page string) map[string]pageTable {
	t.Helper()
	out := map[string]pageTable{}
	for _, fig := range figureRE.FindAllString(page, -1) {
		name := html.UnescapeString(captionRE.FindStringSubmatch(fig)[1])
		var pt pageTable
		for _, l := range linkRE.FindAllStringSubmatch(fig, -1) {
			if l[2] == "CSV" {
				pt.CSV = html.UnescapeString(l[1])
			} else {
				pt.XLSX = html.UnescapeString(l[1])
			}
		}
		if b := bodyRE.FindStringSubmatch(fig); b != nil {
			for _, r := range rowRE.FindAllStringSubmatch(b[1], -1) {
				if c := cells(r[1]); len(c) > 1 { // not the 没有数据 row
					pt.Rows = append(pt.Rows, c)
				}
			}
		}
		if f := footRE.FindStringSubmatch(fig); f != nil {
			pt.Total = cells(f[1])
		}
		out[name] = pt
	}
	return out
}

// breakdownRows are a JSON breakdown's rows as the page writes them, keeping only those
// whose first key is branch (and dropping that key) when branch is set.
func breakdownRows(b jsonBreakdown, branch string) [][]string {
	var out [][]string
	for _, r := range b.Rows {
		keys, labels := r.Keys, r.Labels
		if branch != "" {
			if keys[0] != branch {
				continue
			}
			keys, labels = keys[1:], labels[1:]
		}
		var row []string
		for i := range keys {
			row = append(row, keys[i], labels[i])
		}
		out = append(out, append(row, itoa(r.Households), itoa(r.People), yuanText(r.NetAmount), strconv.FormatInt(r.NetUnits, 10)))
	}
	return out
}

func sumNet(t *testing.T, b jsonBreakdown, branch string) string {
	var n int64
	for _, r := range b.Rows {
		if branch == "" || r.Keys[0] == branch {
			n += fenOf(t, r.NetAmount)
		}
	}
	return yuanText(fenText(n))
}

func indicatorRow(r jsonIndicatorRow) []string {
	budget := "无预算"
	if r.Budget != nil {
		budget = yuanText(*r.Budget)
	}
	return []string{r.Branch, r.Label, yuanText(r.PurchasedAmount), yuanText(r.HelpedSellAmount), itoa(r.Households), itoa(r.People),
		budget, yuanText(r.Used), percentText(r.UsedPercent)}
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

var dimensionTables = []struct{ by, table string }{{"county", "按县"}, {"category", "按品类"}, {"month", "按月份"}, {"funding", "按资金来源"}}

// The aid office's and the auditor's dashboard is the group's: every figure on it (the
// overview, the targets, the indicators and budgets per branch, the tables by county,
// category, month and funding) equals the JSON report for the same period, on both
// databases; a quarter is read as the API reads quarter=.
func TestDashboardOfTheGroupEqualsTheJSONReports(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		s := newSiteOn(t, db)
		seedYear(t, s)
		var ind jsonIndicators
		s.apiJSON(t, "/v1/reports/indicators?year=2019", &ind)
		for _, p := range []struct{ page, api string }{
			{"/dashboard?year=2019", "year=2019"},
			{"/dashboard?year=2019&quarter=2", "quarter=2019Q2"},
			{"/dashboard?from=2019-03-01&to=2019-05-31", "from=2019-03-01&to=2019-05-31"},
		} {
			for _, role := range []orders.Role{orders.RoleAidOffice, orders.RoleAuditor} {
				resp, page := s.as(t, role, "").get(p.page)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s as %s: %d\n%s", p.page, role, resp.StatusCode, page)
				}
				tables := tablesOf(t, page)
				var county jsonBreakdown
				for _, d := range dimensionTables {
					var b jsonBreakdown
					s.apiJSON(t, "/v1/reports/breakdown?by="+d.by+"&"+p.api, &b)
					if d.by == "county" {
						county = b
					}
					got := tables[d.table]
					mustEqual(t, p.page+" "+d.table, got.Rows, breakdownRows(b, ""))
					mustEqual(t, p.page+" "+d.table+" 合计", got.Total, []string{"", "合计", itoa(b.Totals.Households), itoa(b.Totals.People), sumNet(t, b, ""), strconv.FormatInt(b.Totals.NetUnits, 10)})
				}
				tot := county.Totals
				mustEqual(t, p.page+" 概览", tables["概览"].Rows, [][]string{{itoa(tot.Households), itoa(tot.People),
					yuanText(tot.PurchasedAmount), yuanText(tot.HelpedSellAmount), strconv.FormatInt(tot.NetUnits, 10)}})
				for _, card := range []string{itoa(tot.Households), yuanText(tot.PurchasedAmount), yuanText(tot.HelpedSellAmount), yuanText(ind.Target.PurchasedAmount)} {
					if !strings.Contains(page, `<strong class="card-value">`+card+`</strong>`) {
						t.Errorf("%s: no headline card %s", p.page, card)
					}
				}
				var rows [][]string
				for _, r := range ind.Branches {
					rows = append(rows, indicatorRow(r))
				}
				mustEqual(t, p.page+" 指标与预算", tables["2019年指标与预算"].Rows, rows)
				mustEqual(t, p.page+" 指标与预算 合计", tables["2019年指标与预算"].Total, indicatorRow(ind.Group))
				mustEqual(t, p.page+" 目标", tables["2019年目标完成"].Rows, [][]string{
					{"购买", yuanText(ind.Target.PurchasedAmount), yuanText(ind.Group.PurchasedAmount), percentText(ind.Target.PurchasedPercent)},
					{"帮助销售", yuanText(ind.Target.HelpedSellAmount), yuanText(ind.Group.HelpedSellAmount), percentText(ind.Target.HelpedSellPercent)}})
			}
		}
		// The seed is what the tables say: both branches, both counties.
		_, page := s.as(t, orders.RoleAuditor, "").get("/dashboard?year=2019")
		for _, want := range []string{"第一分公司工会", "定边县", "宜川县", "¥540.00"} {
			if !strings.Contains(page, want) {
				t.Errorf("the group's dashboard lacks %s", want)
			}
		}
	})
}

// Branch staff see their branch only: each table has the branch's rows of the branch ×
// dimension breakdowns and its by=branch row as total, equal to the JSON reports; no
// figure, county or name of another branch appears on the page or in its downloads.
func TestDashboardOfBranchStaffIsTheirBranchOnly(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	seedYear(t, s)
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	resp, page := b.get("/dashboard?year=2019")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, page)
	}
	tables := tablesOf(t, page)
	var byBranch jsonBreakdown
	s.apiJSON(t, "/v1/reports/breakdown?by=branch&year=2019", &byBranch)
	var own *jsonFigures
	for i := range byBranch.Rows {
		if byBranch.Rows[i].Keys[0] == "HQ" {
			own = &byBranch.Rows[i].jsonFigures
		}
	}
	if own == nil || own.Households != 3 {
		t.Fatalf("the seed gave HQ no benefit: %+v", byBranch)
	}
	mustEqual(t, "概览", tables["概览"].Rows, [][]string{{itoa(own.Households), itoa(own.People), yuanText(own.NetAmount), strconv.FormatInt(own.NetUnits, 10)}})
	for _, d := range dimensionTables {
		var bd jsonBreakdown
		s.apiJSON(t, "/v1/reports/breakdown?by=branch,"+d.by+"&year=2019", &bd)
		mustEqual(t, d.table, tables[d.table].Rows, breakdownRows(bd, "HQ"))
		mustEqual(t, d.table+" 合计", tables[d.table].Total, []string{"", "合计", itoa(own.Households), itoa(own.People), yuanText(own.NetAmount), strconv.FormatInt(own.NetUnits, 10)})
	}
	var ind jsonIndicators
	s.apiJSON(t, "/v1/reports/indicators?year=2019", &ind)
	var hq []string
	for _, r := range ind.Branches {
		if r.Branch == "HQ" {
			hq = indicatorRow(r)
		}
	}
	mustEqual(t, "指标与预算", tables["2019年指标与预算"].Rows, [][]string{hq})
	if _, ok := tables["2019年目标完成"]; ok {
		t.Error("branch staff see the group's targets")
	}
	// S01 bought walnuts of 定边县 for ¥200.00; the group total is ¥540.00.
	for _, other := range []string{"S01", "第一分公司", "定边县", "核桃", "¥200.00", "¥540.00"} {
		if strings.Contains(page, other) {
			t.Errorf("HQ's dashboard shows %q of another branch or the group", other)
		}
	}
	for _, format := range []string{"csv", "xlsx"} {
		resp, body := b.get("/dashboard?year=2019&format=" + format)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", format, resp.StatusCode)
		}
		text := body
		if format == "xlsx" {
			text = xlsxText(t, []byte(body))
		}
		for _, other := range []string{"S01", "第一分公司", "定边县", "540.00"} {
			if strings.Contains(text, other) {
				t.Errorf("HQ's %s download holds %q", format, other)
			}
		}
	}
}

// xlsxText is every cell of every sheet of an XLSX file, one per line.
func xlsxText(t *testing.T, b []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an XLSX file: %v", err)
	}
	defer f.Close()
	var sb strings.Builder
	for _, sh := range f.GetSheetList() {
		rows, err := f.GetRows(sh)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			sb.WriteString(sh + ": " + strings.Join(r, "|") + "\n")
		}
	}
	return sb.String()
}

// A table's download links give exactly that table: a real XLSX (opened with excelize)
// with its sheet and figures, and a UTF-8 CSV with a BOM and Chinese headers.
func TestDashboardTableDownloads(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	seedYear(t, s)
	b := s.as(t, orders.RoleAidOffice, "")
	_, page := b.get("/dashboard?year=2019")
	county := tablesOf(t, page)["按县"]
	if county.XLSX == "" || county.CSV == "" {
		t.Fatalf("按县 has no download links: %+v", county)
	}
	resp, body := b.get(county.XLSX)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("xlsx: %d %v", resp.StatusCode, resp.Header)
	}
	f, err := excelize.OpenReader(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not an XLSX file: %v", err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); !slices.Contains(sheets, "按县") || slices.Contains(sheets, "按品类") {
		t.Fatalf("sheets %v, want 按县 and not the other tables", sheets)
	}
	rows, err := f.GetRows("按县")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		if len(r) > 4 && r[0] == "610630" && strings.ReplaceAll(r[4], ",", "") == "340.00" {
			found = true
		}
	}
	if !found {
		t.Fatalf("按县 sheet lacks 宜川县's ¥340.00: %v", rows)
	}
	resp, body = b.get(county.CSV)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v", resp.StatusCode, resp.Header)
	}
	lines := strings.Split(body, "\n")
	if !strings.HasPrefix(lines[0], "\uFEFF县,县名称,受益户数") || !strings.Contains(body, "610630,宜川县,3,12,340.00,5") {
		t.Fatalf("csv:\n%s", body)
	}
}

var (
	scriptRE = regexp.MustCompile(`(?i)<script\b[^>]*>`)
	styleRE  = regexp.MustCompile(`(?i)<style\b|\sstyle\s*=`)
)

// The dashboard has no inline script or style (the CSP forbids them): each script is a
// file of the site's or the JSON data block; the charts' data is valid JSON; the CSP is
// sent; and ECharts is served from the binary.
func TestDashboardHasNoInlineScriptOrStyle(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	seedYear(t, s)
	b := s.as(t, orders.RoleAidOffice, "")
	resp, page := b.get("/dashboard?year=2019")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
	for _, tag := range scriptRE.FindAllString(page, -1) {
		if !strings.Contains(tag, `src="/static/`) && !strings.Contains(tag, `type="application/json"`) {
			t.Errorf("inline script: %s", tag)
		}
	}
	if m := styleRE.FindString(page); m != "" {
		t.Errorf("inline style: %q", m)
	}
	block := regexp.MustCompile(`(?s)<script type="application/json" id="dashboard-data">(.*?)</script>`).FindStringSubmatch(page)
	if block == nil {
		t.Fatal("no chart data block")
	}
	var charts struct {
		County struct{ Labels, Values, Texts []string }
		Budget *struct{ Labels, Used []string }
	}
	if err := json.Unmarshal([]byte(block[1]), &charts); err != nil {
		t.Fatalf("chart data is not JSON: %v\n%s", err, block[1])
	}
	if !slices.Contains(charts.County.Labels, "宜川县") || !slices.Contains(charts.County.Texts, "¥340.00") || charts.Budget == nil {
		t.Fatalf("chart data %+v", charts)
	}
	for _, src := range []string{"/static/vendor/echarts/echarts.common.min.js", "/static/dashboard.js", "/static/dashboard.css"} {
		if !strings.Contains(page, src) {
			t.Errorf("the page does not load %s", src)
		}
		resp, body := b.get(src)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: %d", src, resp.StatusCode)
		}
	}
}

// The period selector: no period is the latest year with figures (2019 here, the clock
// being later); a bad field is shown with its Chinese message, never a 5xx.
func TestDashboardPeriodSelector(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	seedYear(t, s)
	b := s.as(t, orders.RoleAidOffice, "")
	resp, page := b.get("/dashboard")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="year" inputmode="numeric" autocomplete="off" size="6" value="2019"`) ||
		!strings.Contains(page, "2019-01-01 至 2019-12-31") {
		t.Fatalf("default period is not 2019: %d", resp.StatusCode)
	}
	tests := []struct{ name, query, field, message string }{
		{"year_not_four_digits", "year=19", "year", "年度请填写四位数字"},
		{"month_and_quarter", "year=2019&quarter=1&month=2", "month", "季度和月份只能选一个"},
		{"month_out_of_range", "year=2019&month=13", "month", "月份请选 1 至 12 月"},
		{"range_without_end", "from=2019-03-01", "to", "请填写截止日期"},
		{"range_end_before_start", "from=2019-03-01&to=2019-02-01", "to", "不早于起始日期"},
		{"unreadable_day", "from=2019-02-30&to=2019-03-01", "from", "起始日期请写成 YYYY-MM-DD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, page := b.get("/dashboard?" + tt.query)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			if !strings.Contains(page, `id="e-`+tt.field+`" class="field-error">`) || !strings.Contains(page, tt.message) {
				t.Fatalf("no message %q at %s:\n%s", tt.message, tt.field, page)
			}
			if !strings.Contains(page, `aria-invalid="true" aria-describedby="e-`+tt.field+`"`) {
				t.Fatalf("field %s not marked invalid", tt.field)
			}
		})
	}
	if resp, _ := s.anonymous(t).get("/dashboard"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Live: an open dashboard's event stream says "changed" within 3 s of a delivery applied
// through orders.Service.Apply, and a client that goes away is unsubscribed.
func TestDashboardEventsAfterADelivery(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	o := s.place(t, "HQ", "2019-HQ-LIVE", "P1", 2, orders.FundingUnion, time.Date(2019, 4, 1, 9, 0, 0, 0, bizday.Beijing))
	b := s.as(t, orders.RoleBranchStaff, "HQ")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/dashboard/events", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine := func(want string) time.Duration {
		t.Helper()
		start := time.Now()
		deadline := time.After(3 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q", want)
				}
				if l == want {
					return time.Since(start)
				}
			case <-deadline:
				t.Fatalf("no %q within 3 s", want)
			}
		}
	}
	waitLine(": connected") // subscribed
	s.deliver(t, o)
	waitLine("event: changed")
	cancel()
	deadline := time.Now().Add(3 * time.Second)
	for s.bus.Subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stream stayed subscribed after its client went away")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Another role's page is absent, as the API's: a stream needs a dashboard viewer.
	if resp, _ := s.anonymous(t).get("/dashboard/events"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed-out events: %d", resp.StatusCode)
	}
}
