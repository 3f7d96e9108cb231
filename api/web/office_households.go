package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"aidmall/bizday"
	"aidmall/households"
	"aidmall/orders"
	"aidmall/reports"
)

// ledgerKinds are the ledger's kinds of entry in Chinese.
var ledgerKinds = map[string]string{
	reports.KindDelivery:   "妥投",
	reports.KindRefund:     "退款",
	reports.KindCorrection: "更正",
	reports.KindAdjustment: "调整（已结账期间）",
}

type householdData struct {
	No, From, To string
	Searched     bool
	Found        bool
	Tables       []tableView
	Errs         *formErrors
}

// householdDocument is the household as registered, masked, and every ledger entry
// behind its benefit in the period with their sum as the 合计 row (the provenance's own
// net amount).
func householdDocument(v households.View, p reports.Provenance) reports.Document {
	exit := ""
	if v.ExitYear != 0 {
		exit = strconv.Itoa(v.ExitYear)
	}
	reg := reports.Table{Name: "帮扶户", Columns: []reports.Column{
		{Name: "household_no", Title: "户编号"}, {Name: "head_name", Title: "户主姓名"}, {Name: "id_number", Title: "证件号码"},
		{Name: "phone", Title: "联系电话"}, {Name: "members", Title: "家庭人口数", Kind: reports.KindInt}, {Name: "county", Title: "县(市、区)"},
		{Name: "township", Title: "乡(镇)"}, {Name: "village", Title: "行政村"}, {Name: "attribute", Title: "贫困户属性"}, {Name: "exit_year", Title: "脱贫年度"},
	}, Rows: [][]reports.Value{{reports.Text(string(v.No)), reports.Text(v.HeadName), reports.Text(v.IDNumber), reports.Text(v.Phone),
		reports.Int(int64(v.Members)), reports.Text(v.County), reports.Text(v.Township), reports.Text(v.Village), reports.Text(v.Attribute), reports.Text(exit)}}}
	led := reports.Table{Name: "受益明细", Columns: []reports.Column{
		{Name: "day", Title: "记账日"}, {Name: "concerns_day", Title: "所涉日期"}, {Name: "amount", Title: "金额", Kind: reports.KindMoney},
		{Name: "kind", Title: "类别"}, {Name: "order_ref", Title: "订单编号"}, {Name: "branch_code", Title: "单位"},
		{Name: "line_no", Title: "行号", Kind: reports.KindInt}, {Name: "sku", Title: "商品编码"}, {Name: "mall", Title: "商城"},
		{Name: "mall_event_id", Title: "商城事件"}, {Name: "supplier", Title: "供应商"}, {Name: "linkage_types", Title: "利益联结"},
		{Name: "weight", Title: "权重"},
	}, Rows: [][]reports.Value{}}
	for _, e := range p.Entries {
		concerns := ""
		if e.Concerns != nil {
			concerns = e.Concerns.String()
		}
		kind, ok := ledgerKinds[e.Kind]
		if !ok {
			kind = e.Kind
		}
		led.Rows = append(led.Rows, []reports.Value{
			reports.Text(e.Day.String()), reports.Text(concerns), reports.Money(e.Amount), reports.Text(kind), reports.Text(e.OrderRef),
			reports.Text(e.BranchCode), reports.Int(int64(e.LineNo)), reports.Text(e.SKU), reports.Text(e.Mall), reports.Text(e.MallEventID),
			reports.Text(e.Supplier), reports.Text(linkageNames(e.LinkageTypes)), reports.Text(e.Weight),
		})
	}
	total := make([]reports.Value, len(led.Columns))
	for i := range total {
		total[i] = reports.Text("")
	}
	total[0], total[2] = reports.Text("合计"), reports.Money(p.NetAmount)
	led.Total = total
	return reports.Document{Report: "household-" + string(v.No), Title: "帮扶户受益明细",
		Params: []reports.Field{
			{Name: "household_no", Title: "户编号", Value: reports.Text(string(v.No))},
			{Name: "from", Title: "起始日", Value: reports.Text(p.From.String())},
			{Name: "to", Title: "截止日", Value: reports.Text(p.To.String())},
		},
		Headline: []reports.Field{{Name: "net_amount", Title: "净受益金额", Value: reports.Money(p.NetAmount)}},
		Tables:   []reports.Table{reg, led}}
}

// householdPage is GET /office/households?no=&from=&to=: one household by its number,
// masked as the API masks it, and its benefit in the period with every ledger entry
// behind it (the store's HouseholdView and Provenance, as GET /v1/households/{no} and
// /provenance). The period defaults to this Beijing year up to today.
func (s *Server) householdPage(c echo.Context) error {
	today := bizday.Of(s.now())
	d := householdData{No: strings.TrimSpace(c.QueryParam("no")), From: strings.TrimSpace(c.QueryParam("from")), To: strings.TrimSpace(c.QueryParam("to"))}
	if d.From == "" {
		d.From = today.Start().Format("2006") + "-01-01"
	}
	if d.To == "" {
		d.To = today.String()
	}
	page := func(status int) error {
		p := Page{Title: "帮扶户查询", Active: "/office/households", Data: d}
		if d.Errs != nil {
			p.Error = d.Errs.Message
		}
		return s.render(c, status, "office_households.html", p)
	}
	if d.No == "" {
		return page(http.StatusOK)
	}
	d.Searched = true
	fe := &formErrors{Message: "查询条件有误：请更正下列标出的内容。", Fields: map[string]string{}}
	from, err := bizday.Parse(d.From)
	if err != nil {
		fe.Fields["from"] = "请填写日期，如 2019-01-01。"
	}
	to, err := bizday.Parse(d.To)
	if err != nil {
		fe.Fields["to"] = "请填写日期，如 2019-12-31。"
	} else if len(fe.Fields) == 0 && to.Before(from) {
		fe.Fields["to"] = "截止日不能早于起始日。"
	}
	if len(fe.Fields) > 0 {
		d.Errs = fe
		return page(http.StatusBadRequest)
	}
	ctx := c.Request().Context()
	no := households.HouseholdNo(d.No)
	v, err := s.cfg.Households.HouseholdView(ctx, no)
	if errors.Is(err, orders.ErrNotFound) {
		d.Errs = &formErrors{Message: "没有户编号为 " + d.No + " 的登记帮扶户。"}
		return page(http.StatusNotFound)
	}
	if err != nil {
		return s.fail(c, err)
	}
	p, err := s.cfg.Households.Provenance(ctx, no, from, to)
	if err != nil {
		return s.fail(c, err)
	}
	doc := householdDocument(v, p)
	if done, err := s.download(c, doc); done {
		return err
	}
	d.Found, d.Tables = true, s.tablesOf(c, doc)
	return page(http.StatusOK)
}

// linkageNames are linkage types in Chinese, joined with 、.
func linkageNames(ts []string) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = linkageName(t)
	}
	return strings.Join(names, "、")
}
